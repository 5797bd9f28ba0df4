"""The address guard: nothing that is not public is fetched, whatever the notation or path in.

Unit tests for `crawler.fetch.guard` (every notation, resolution injected), then real crawls
in subprocesses against the replay server (crawler/demo/replay.py) through the host map, as
tests/test_crawl.py does: a redirect chain from a mapped public host to loopback, `crawl --url`
on the replay address without a map, a rebinding host caught on the connected address, a
card source on a metadata address, discovery endpoints from content, sitemap recursion, and
robots.txt read as RFC 9309 says (5xx or unreachable: disallow all; not a breaker failure).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from crawler.cards.model import CardError, card_digest
from crawler.cards.parse import parse_card
from crawler.demo.replay import ReplayServer
from crawler.fetch.guard import AddressGuard, address_problem, host_problem, name_problem, parse_ip
from scheduler.state import recent_failures
from storage.db import open_store
from storage.models import Fetch, Page, Version
from storage.repositories import upsert_event
from tests.helpers import ROOT, run_cli
from tests.test_crawl import FAST, article_pages

#: Loopback, private, link-local, metadata... each in the notations resolvers accept.
REFUSED = [
    "127.0.0.1",
    "127.0.0.1.",
    "2130706433",  # decimal
    "0x7f000001",  # one hex number
    "0x7f.1",  # hex, short form
    "0177.0.0.1",  # octal
    "017700000001",
    "127.1",  # short form
    "127.0.1",
    "%31%32%37.0.0.1",  # percent-encoded
    "１２７.０.０.１",  # full-width digits
    "127。0。0。1",  # ideographic full stops
    "localhost",
    "LOCALHOST.",
    "app.localhost",
    "printer.local",
    "metadata.google.internal",
    "metadata.google.internal.",
    "metadata",
    "intranet",  # single label: a search-domain name inside the network
    "169.254.169.254",
    "0xa9.0xfe.0xa9.0xfe",
    "2852039166",  # 169.254.169.254 in decimal
    "169.254.1.1",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",
    "0",
    "224.0.0.251",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "[::1]",
    "::1",
    "::",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::10.0.0.1",  # NAT64 of a private address
    "fe80::1",
    "[fe80::1%25eth0]",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "ff02::1",
    "168.63.129.16",  # Azure wireserver (looks public)
]
PUBLIC = ["example.com", "www.abc.com.py", "8.8.8.8", "93.184.216.34", "2606:4700::1111"]


@pytest.mark.parametrize("host", REFUSED)
def test_every_notation_of_a_non_public_address_is_refused(host: str) -> None:
    assert name_problem(host) is not None
    assert AddressGuard(resolve=None).url_problem(f"http://{host}/latest/meta-data/")


@pytest.mark.parametrize("host", PUBLIC)
def test_public_hosts_pass(host: str) -> None:
    assert name_problem(host) is None
    assert host_problem(host, resolve=lambda _h: ["93.184.216.34"]) is None


def test_notations_denote_the_address_resolvers_see() -> None:
    assert str(parse_ip("0x7f.1")) == "127.0.0.1"
    assert str(parse_ip("2130706433")) == "127.0.0.1"
    assert str(parse_ip("0177.0.0.1")) == "127.0.0.1"
    assert str(parse_ip("10.1")) == "10.0.0.1"
    assert str(parse_ip("[::ffff:a9fe:a9fe]")) == "::ffff:a9fe:a9fe"
    assert parse_ip("1.2.3.4.5") is None and parse_ip("256.1.1.1") is None
    assert address_problem("::ffff:169.254.169.254") == "IPv6 form of a cloud metadata address"


def test_a_name_is_refused_when_any_address_it_resolves_to_is_not_public() -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["93.184.216.34", "10.0.0.7"]

    assert host_problem("rebind.example.", resolve) == "resolves to a private address"
    assert asked == ["rebind.example"]
    assert host_problem("ghost.example", lambda _h: []) is None  # no address: no connection
    assert "resolves to a IPv6 form" in (host_problem("x.example", lambda _h: ["::ffff:7f00:1"]))


def test_host_map_hosts_and_allowed_hosts_are_exempt_and_replay_never_shown() -> None:
    guard = AddressGuard(
        {"focustaiwan.tw": "http://127.0.0.1:8080/focustaiwan.tw"},
        allowed=["cms.newsroom.lan"],
        resolve=lambda _h: ["10.0.0.9"],
    )
    assert guard.url_problem("https://focustaiwan.tw/politics/1") is None
    assert guard.url_problem("https://www.focustaiwan.tw/politics/1") is None
    assert guard.url_problem("https://cms.newsroom.lan/story") is None
    assert guard.url_problem("https://other.example/") == (
        "host other.example is not public (resolves to a private address)"
    )
    # A direct request to the replay address is not a mapped request: refused, and not named.
    refusal = guard.url_problem("http://127.0.0.1:8080/focustaiwan.tw/x")
    assert refusal and "127.0.0.1" not in refusal
    assert "127.0.0.1" not in guard.redact("GET http://127.0.0.1:8080/focustaiwan.tw/x failed")


# --- cards -----------------------------------------------------------------------------------


def card_yaml(url: str) -> str:
    return yaml.safe_dump(
        {
            "slug": "guard-case",
            "title": "Guard case",
            "summary": "A card citing a URL.",
            "watch": ["Whether anything happens."],
            "sources": [{"outlet": "Outlet", "url": url, "language": "en"}],
        }
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.1.2.3/news",
        "https://192.168.0.10/a",
        "http://[::1]:8080/a",
        "http://0x7f.1/a",
    ],
)
def test_card_sources_on_non_public_hosts_are_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHDESK_ALLOW_PRIVATE_HOSTS", raising=False)
    with pytest.raises(CardError, match=r"line \d+: Source URL refused: host .* is not public"):
        parse_card(card_yaml(url), name="card.yaml")


def test_an_allowed_private_host_is_accepted_in_a_card(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDESK_ALLOW_PRIVATE_HOSTS", "10.1.2.3, cms.newsroom.lan")
    card = parse_card(card_yaml("http://10.1.2.3/news"), name="card.yaml")
    assert card.sources[0].url == "http://10.1.2.3/news"


# --- real crawls -------------------------------------------------------------------------------


def store_rows(db: str) -> tuple[list[Fetch], list[Version]]:
    sessions = open_store(db)
    with sessions() as session:
        fetches = list(session.scalars(select(Fetch).order_by(Fetch.id)))
        versions = list(session.scalars(select(Version)))
        session.expunge_all()
    return fetches, versions


def test_crawl_url_on_the_replay_address_without_a_host_map_is_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "root" / "state1" / "x").mkdir(parents=True)
    (tmp_path / "root" / "state1" / "x" / "index.html").write_bytes(article_pages()[0])
    with ReplayServer(tmp_path / "root") as server:
        for host in ("127.0.0.1", "localhost", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]"):
            url = f"http://{host}:{server.port}/x/"
            result = run_cli("crawl", "--url", url, *FAST, db=sqlite_url)
            assert result.returncode != 0, (url, result.stdout)
            assert "refused: host" in result.stderr and "is not public" in result.stderr
        # With a host map, the same direct request is refused without naming the replay.
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map(["a.example"]))}
        result = run_cli("crawl", "--url", f"{server.base_url}/x/", db=sqlite_url, env=env)
        assert result.returncode != 0 and "is not public" in result.stderr
        assert "127.0.0.1" not in result.stderr
        assert server.log == []
    fetches, versions = store_rows(sqlite_url)
    assert fetches == [] and versions == []


def test_a_redirect_chain_from_a_public_host_to_loopback_is_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "root" / "state1"
    for host in ("a.example", "b.example"):
        (root / host).mkdir(parents=True)
    (root / "a.example" / "secret.html").write_text("<html><body><p>instance secret</p></body>")
    with ReplayServer(tmp_path / "root") as server:
        replay = f"http://127.0.0.1:{server.port}"
        routes = {
            # a.example -> b.example (both mapped, public) -> the replay address itself.
            "a.example/news/start": {"redirect": "https://b.example/news/hop"},
            "b.example/news/hop": {"redirect": f"{replay}/a.example/secret"},
            # Other notations of loopback, and the metadata address, straight from a.example.
            "a.example/news/hex": {"redirect": f"http://0x7f.1:{server.port}/a.example/secret"},
            "a.example/news/meta": {"redirect": "http://169.254.169.254/latest/meta-data/"},
        }
        (root / "routes.yaml").write_text(yaml.safe_dump(routes))
        server.set_state("state1")
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        urls = [f"https://a.example/news/{name}" for name in ("start", "hex", "meta")]
        args = [a for url in urls for a in ("--url", url)]
        result = run_cli("-v", "crawl", *args, *FAST, db=sqlite_url, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.hits("b.example", "/news/hop") == 1  # the public hop was followed
        assert server.hits("a.example", "/secret") == 0  # the loopback hops never were
        assert "address guard: skipped a request (a redirect)" in result.stderr
        assert "watchdesk/guard/refused" in result.stderr
    fetches, versions = store_rows(sqlite_url)
    assert versions == []
    assert [f.outcome for f in fetches] == ["transient"] * 3
    for fetch in fetches:
        assert fetch.error and fetch.error.startswith("IgnoreRequest: address guard: host")
        assert "127.0.0.1" not in fetch.error and str(server.port) not in fetch.error


REBIND = """
import sys
from crawler.fetch import guard
# The middleware's resolver saw a public address; the connection then went to loopback.
guard.AddressGuard.url_problem = lambda self, url: None
from crawler.cli import main
sys.argv = ["watchdesk", *sys.argv[1:]]
main()
"""


def test_an_answer_from_a_non_public_peer_is_dropped(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "root" / "state1" / "x").mkdir(parents=True)
    (tmp_path / "root" / "state1" / "x" / "index.html").write_bytes(article_pages()[0])
    with ReplayServer(tmp_path / "root") as server:
        url = f"{server.base_url}/x/"
        result = subprocess.run(
            [sys.executable, "-c", REBIND, "--db", sqlite_url, "crawl", "--url", url, *FAST],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.hits("x", "/") == 1  # the request went out (see crawler/handlers.py)
    fetches, versions = store_rows(sqlite_url)
    assert versions == []  # …but its answer was never stored
    assert [f.outcome for f in fetches] == ["transient"]
    assert "connected to a loopback address" in (fetches[0].error or "")


# --- robots.txt ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "error", "counts"),
    [
        ({"status": 503}, "IgnoreRequest: robots.txt unreachable (HTTP 503)", True),
        ({"reset": True}, "IgnoreRequest: robots.txt unreachable (", True),
        ({"file": "deny.txt"}, "IgnoreRequest: Forbidden by robots.txt", False),
        ({"status": 404, "body": "User-agent: *\nDisallow: /\n"}, None, False),
    ],
    ids=["5xx-disallows", "unreachable-disallows", "denial-is-no-failure", "4xx-allows"],
)
def test_robots_txt_is_read_as_rfc_9309_says(
    route: dict, error: str | None, counts: bool, tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "root" / "state1"
    (root / "h.example").mkdir(parents=True)
    (root / "h.example" / "a.html").write_bytes(article_pages()[0])
    (root / "h.example" / "deny.txt").write_text("User-agent: *\nDisallow: /\n")
    (root / "routes.yaml").write_text(yaml.safe_dump({"h.example/robots.txt": route}))
    with ReplayServer(tmp_path / "root") as server:
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        for _ in range(2):
            result = run_cli("crawl", "--url", "https://h.example/a", *FAST, db=sqlite_url, env=env)
            assert result.returncode == 0, result.stderr[-3000:]
        # 4xx: allowed (even a 404 page saying "Disallow"); anything else: nothing fetched.
        assert server.hits("h.example", "/a") == (2 if error is None else 0)
    sessions = open_store(sqlite_url)
    with sessions() as session:
        host = session.scalar(select(Page.host))
        errors = list(session.scalars(select(Fetch.error)))
        assert host
        # A robots.txt denial is the outlet's decision, not an outage: the breaker never
        # sees it; an unreachable robots.txt is the outlet failing, and counts.
        failures = recent_failures(session, host, 5)
    if error is None:
        assert errors == [None, None] and failures == [False, False]
    else:
        assert all(e and e.startswith(error) for e in errors), errors
        assert failures == ([True, True] if counts else [])


# --- discovery ---------------------------------------------------------------------------------

SITEMAP_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{}
</sitemapindex>
"""


def index_of(*urls: str) -> str:
    return SITEMAP_INDEX.format("\n".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls))


def test_discovery_refuses_content_endpoints_and_stops_sitemap_recursion(
    tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "root" / "state1" / "news.example"
    root.mkdir(parents=True)
    (root / "index.html").write_text("<html><body><h1>News</h1></body></html>")
    (root / "a.html").write_bytes(article_pages()[0])
    with ReplayServer(tmp_path / "root") as server:
        replay = f"http://127.0.0.1:{server.port}"
        (root / "robots.txt").write_text(
            "User-agent: *\nAllow: /\n"
            "Sitemap: http://169.254.169.254/latest/meta-data/sitemap.xml\n"
            f"Sitemap: {replay}/news.example/leak.xml\n"
            "Sitemap: https://news.example/index.xml\n"
        )
        base = "https://news.example"
        # An index listing itself, and a chain of indexes deeper than the limit (3).
        (root / "index.xml").write_text(index_of(f"{base}/index.xml", f"{base}/d1.xml"))
        for depth in range(1, 6):
            (root / f"d{depth}.xml").write_text(index_of(f"{base}/d{depth + 1}.xml"))
        (root / "leak.xml").write_text(index_of(f"{base}/a"))
        sessions = open_store(sqlite_url)
        text = card_yaml(f"{base}/a")
        card = parse_card(text, name="card.yaml")
        with sessions.begin() as session:
            upsert_event(session, card, card_digest(card), text)
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        result = run_cli("discover", "--event", "guard-case", *FAST, db=sqlite_url, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.hits("news.example", "/robots.txt") >= 1
        assert server.hits("news.example", "/index.xml") == 1
        assert [server.hits("news.example", f"/d{d}.xml") for d in range(1, 6)] == [1, 1, 1, 0, 0]
        assert server.hits("news.example", "/leak.xml") == 0
        skips = [line for line in result.stderr.splitlines() if "endpoint skipped" in line]
        assert len(skips) == 2 and all("sitemap endpoint skipped: host" in x for x in skips)
        assert "169.254.169.254 is not public" in skips[0]
        assert all("127.0.0.1" not in line for line in skips)
