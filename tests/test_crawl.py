"""Real crawls: `watchdesk crawl` in a subprocess against a replay server on 127.0.0.1.

The replay root is built per test from real saved pages (tests/fixtures/pages), with
routes that misbehave the way outlets do. Every state of the fetch state machine is checked
in the store after the crawls, and the replay log shows what went over the wire.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from storage.models import Change, Fetch, Page, Version
from tests.helpers import FIXTURES, run_cli, write_card

#: Real English and Spanish news pages from the extraction fixtures (see their PROVENANCE.md).
PAGES = [
    FIXTURES / "pages" / name
    for name in (
        "washingtonpost/2024-04-26_tornadoes-central-us.fundus.html.gz",
        "washingtonpost/2020-07-08_federal-workers-returning.htmldate.html.gz",
        "taipeitimes/TaipeiTimes_2024_10_15.html.gz",
        "hoy/hoy.com-daran.html.gz",
    )
]
FAST = [
    "-s",
    "WATCHDESK_RETRY_BACKOFF_BASE=0.05",
    "-s",
    "WATCHDESK_RETRY_BACKOFF_MAX=0.2",
    "-s",
    "DOWNLOAD_TIMEOUT=2",
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    # Crawls seconds apart: a removal is confirmed by the next check, as in any replay.
    "-s",
    "WATCHDESK_CONFIRM_AFTER=0",
]
CHALLENGE = b"""<!DOCTYPE html><html><head><title>Just a moment...</title></head>
<body><div id="cf-chl-widget">Checking if the site connection is secure</div>
<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"""


def article_pages() -> list[bytes]:
    """Real article pages (English news from the fixtures), decompressed."""
    bodies = []
    for path in PAGES:
        data = path.read_bytes()
        bodies.append(gzip.decompress(data) if path.suffix == ".gz" else data)
    return bodies


def edit(body: bytes) -> bytes:
    """Add a sentence after the first long paragraph."""
    extra = b"<p>Officials said on Tuesday that 57 people had been evacuated from the area.</p>"
    match = re.search(rb"<p[^>]*>[^<]{120,}.*?</p>", body, re.S)
    assert match, "fixture page has no long paragraph"
    return body[: match.end()] + extra + body[match.end() :]


def teaser(body: bytes) -> bytes:
    """The page with every paragraph after its first long one removed (a paywall teaser)."""
    kept = 0

    def keep_first(match: re.Match[bytes]) -> bytes:
        nonlocal kept
        long = len(re.sub(rb"<[^>]+>", b"", match[0])) >= 120
        kept += long
        return match[0] if long and kept == 1 else b""

    return re.sub(rb"<p[\s>].*?</p>", keep_first, body, flags=re.S)


#: name -> (host, path, state-2 route or None, state-2 body transform or None)
SCENARIOS = {
    "edited": ("a.example", "/news/edited", None, edit),
    "rerendered": (
        "a.example",
        "/news/rerendered",
        None,
        lambda b: b.replace(
            b"</body>", b"<!-- rendered 12:01:07 --><div class='clock'>12:01</div></body>"
        ),
    ),
    "unchanged": ("a.example", "/news/unchanged", None, None),
    "e503": ("b.example", "/news/e503", {"status": 503}, None),
    "timeout": ("b.example", "/news/timeout", {"delay": 4}, None),
    "reset": ("c.example", "/news/reset", {"reset": True}, None),
    "loop": ("c.example", "/news/loop", {"redirect": "https://c.example/news/loop2"}, None),
    "gone404": ("d.example", "/news/gone404", {"status": 404}, None),
    "gone410": ("d.example", "/news/gone410", {"status": 410}, None),
    "home": (
        "e.example",
        "/news/home",
        {"redirect": "https://e.example/", "redirect_status": 302},
        None,
    ),
    "challenge": ("e.example", "/news/challenge", None, lambda b: CHALLENGE),
    "pdf": (
        "f.example",
        "/news/pdf",
        {"content_type": "application/pdf"},
        lambda b: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ),
    "huge": ("f.example", "/news/huge", {"body_bytes": 9_000_000}, None),
    "teaser": ("g.example", "/news/teaser", None, teaser),
}


def build_root(root: Path) -> dict[str, str]:
    """Write state1 (real pages) and state2 (misbehaving) folders; return name -> real URL."""
    bodies = article_pages()
    routes: dict[str, dict] = {"c.example/news/loop2": {"redirect": "https://c.example/news/loop"}}
    urls = {}
    for index, (name, (host, path, route, transform)) in enumerate(sorted(SCENARIOS.items())):
        # The teaser needs a long article whose first paragraph is the article's own (WaPo).
        body = bodies[0] if name == "teaser" else bodies[index % len(bodies)]
        for state, data in (("state1", body), ("state2", transform(body) if transform else body)):
            target = root / state / host / (path.lstrip("/") + ".html")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            (root / state / host / "index.html").write_text(
                "<html><body><h1>Home</h1></body></html>"
            )
        if route:
            routes[f"{host}{path}"] = route
        urls[name] = f"https://{host}{path}"
    (root / "state1" / "routes.yaml").write_text("{}\n")
    (root / "state2" / "routes.yaml").write_text(yaml.safe_dump(routes))
    return urls


@pytest.fixture
def replay(tmp_path: Path):
    urls = build_root(tmp_path / "root")
    with ReplayServer(tmp_path / "root", state="state1") as server:
        yield server, urls


def crawl(db: str, server: ReplayServer, *extra: str) -> str:
    env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
    result = run_cli("crawl", "--event", "crawl-cases", *FAST, *extra, db=db, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def outcomes(db: str) -> dict[str, list[str]]:
    engine = create_engine(db)
    with Session(engine) as session:
        rows = session.execute(
            select(Page.url, Fetch.outcome).join(Fetch, Fetch.page_id == Page.id).order_by(Fetch.id)
        )
        found: dict[str, list[str]] = {}
        for url, outcome in rows:
            found.setdefault(url, []).append(outcome)
    engine.dispose()
    return found


@pytest.mark.slow
def test_state_machine_over_real_crawls(replay, tmp_path: Path, sqlite_url: str) -> None:
    server, urls = replay
    card = write_card(tmp_path / "card.yaml", urls)
    added = run_cli("event", "add", str(card), db=sqlite_url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1] == "crawl-cases"

    crawl(sqlite_url, server)
    server.set_state("state2")
    crawl(sqlite_url, server)
    summary = crawl(sqlite_url, server)
    assert "checked" in summary

    seen = {name: outcomes(sqlite_url)[url] for name, url in urls.items()}
    assert seen["edited"] == ["new_version", "new_version", "not_modified"]
    assert seen["rerendered"] == ["new_version", "unchanged", "not_modified"]
    assert seen["unchanged"] == ["new_version", "not_modified", "not_modified"]
    for transient in ("e503", "timeout", "reset", "loop", "challenge", "pdf", "huge", "teaser"):
        assert seen[transient] == ["new_version", "transient", "transient"], transient
    for gone in ("gone404", "gone410", "home"):
        assert seen[gone] == ["new_version", "gone_suspected", "removed"], gone

    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        changes = {
            url: [c.kind for c in session.scalars(select(Change).join(Page).where(Page.url == url))]
            for url in urls.values()
        }
        versions = {
            url: session.scalar(select(Version.id).join(Page).where(Page.url == url).limit(1))
            for url in urls.values()
        }
        failing = session.scalar(select(Page).where(Page.url == urls["e503"]))
        assert failing.state == "failing" and failing.consecutive_failures == 2
    engine.dispose()
    assert changes[urls["edited"]] == ["edit"]
    assert changes[urls["gone404"]] == ["removed"]
    # A transient failure is never reported as an edit or a removal.
    for name in (
        "e503",
        "timeout",
        "reset",
        "loop",
        "challenge",
        "pdf",
        "huge",
        "teaser",
        "rerendered",
        "unchanged",
    ):
        assert changes[urls[name]] == [], name
    assert all(versions.values())


@pytest.mark.slow
def test_conditional_requests_and_host_map(replay, tmp_path: Path, sqlite_url: str) -> None:
    server, urls = replay
    subset = {k: urls[k] for k in ("edited", "unchanged")}
    run_cli("event", "add", str(write_card(tmp_path / "card.yaml", subset)), db=sqlite_url)
    crawl(sqlite_url, server)
    crawl(sqlite_url, server)
    pages = [e for e in server.log if e["path"].startswith("/news/")]
    first, second = pages[:2], pages[2:]
    assert all(e["status"] == 200 and e["if_none_match"] is None for e in first)
    assert all(e["status"] == 304 and e["if_none_match"] for e in second)
    assert all(e["if_modified_since"] for e in second)
    assert all("watchdesk" in (e["user_agent"] or "") for e in pages)
    # robots.txt was asked per real host, through the map.
    assert {e["host"] for e in server.log if e["path"] == "/robots.txt"} == {"a.example"}
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        stored = set(session.scalars(select(Version.final_url)))
    engine.dispose()
    assert stored == set(subset.values())  # real URLs, never the replay address


def test_robots_disallow_is_obeyed(tmp_path: Path, sqlite_url: str) -> None:
    root = tmp_path / "root"
    (root / "state1" / "h.example" / "private").mkdir(parents=True)
    (root / "state1" / "h.example" / "robots.txt").write_text(
        "User-agent: *\nDisallow: /private/\n"
    )
    (root / "state1" / "h.example" / "private" / "a.html").write_bytes(article_pages()[0])
    with ReplayServer(root) as server:
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        result = run_cli(
            "crawl", "--url", "https://h.example/private/a", *FAST, db=sqlite_url, env=env
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert server.hits("h.example", "/private/a") == 0
    found = outcomes(sqlite_url)["https://h.example/private/a"]
    assert found == ["transient"]


def test_crawl_refuses_non_http_url(sqlite_url: str) -> None:
    result = run_cli("crawl", "--url", "file:///etc/passwd", db=sqlite_url)
    assert result.returncode != 0
    assert "not an http(s) URL" in result.stderr
