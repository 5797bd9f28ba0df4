"""`watchdesk discover` end to end: the outlet spiders against replays of their real endpoints.

Two discovery runs in subprocesses (a Twisted reactor starts once per process) share one
store and one replay server; the tests below read what they left. The fixtures' ground truth
(which article is a follow-up, of which watch items, which are syndicated copies) is
tests/fixtures/outlets/expected.yaml, written with the fixtures, not by the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml
from sqlalchemy import func, select

from crawler.demo import replay
from crawler.fetch.urls import url_key
from storage.db import open_store
from storage.models import Followup, Outlet, Page, Run, SeenUrl, Version, WatchItem
from tests.helpers import FIXTURES, ROOT, run_cli

SLUG = "paraguay-pena-taiwan-2026"
OUTLETS = FIXTURES / "outlets"
EXPECTED = yaml.safe_load((OUTLETS / "expected.yaml").read_text(encoding="utf-8"))
CARD = FIXTURES / "cards" / f"{SLUG}.md"
TERMS = ROOT / "crawler" / "demo" / "terms" / f"{SLUG}.yaml"
#: Politeness delays are the project's; a replay on 127.0.0.1 needs none.
FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False")

pytestmark = pytest.mark.slow


@dataclass
class Discovery:
    """What the two runs left behind."""

    db: str
    first: Any
    second: Any
    first_log: list[dict[str, Any]]
    second_log: list[dict[str, Any]]
    forms: list[dict[str, list[str]]]


@pytest.fixture(scope="module")
def discovery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Discovery]:
    db = f"sqlite:///{tmp_path_factory.mktemp('discover') / 'watchdesk.db'}"
    server = replay.ReplayServer(OUTLETS)
    server.start()
    try:
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        added = run_cli("event", "add", str(CARD), "--terms", str(TERMS), db=db)
        assert added.returncode == 0, added.stderr
        first = run_cli("discover", "--event", SLUG, *FAST, db=db, env=env)
        assert first.returncode == 0, first.stderr
        first_log = list(server.log)
        second = run_cli("discover", "--event", SLUG, *FAST, db=db, env=env)
        assert second.returncode == 0, second.stderr
        forms = [parse_qs(e["body"]) for e in server.log if e["method"] == "POST"]
        yield Discovery(db, first, second, first_log, server.log[len(first_log) :], forms)
    finally:
        server.stop()


def requested(log: list[dict[str, Any]]) -> set[str]:
    """`host/path` of every request in a replay log (path decoded, query dropped)."""
    return {entry["host"] + unquote(entry["path"]) for entry in log}


def replay_key(url: str) -> str:
    """How a real URL shows in the replay log: host folder (no `www.`) + decoded path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host.removeprefix("www.") + unquote(parts.path or "/")


def run_stats(db: str, kind: str, outlet: str) -> list[dict[str, Any]]:
    """The stats of each run of spider `kind` for `outlet`, oldest first."""
    with open_store(db).begin() as session:
        query = select(Run).where(Run.kind == kind, Run.owner.like(f"{kind}:{outlet}:%"))
        return [run.stats for run in session.scalars(query.order_by(Run.id))]


def stored_followups(db: str) -> dict[str, dict[str, Any]]:
    """url_key -> score, watch item numbers, group key of every stored follow-up."""
    with open_store(db).begin() as session:
        numbers = {i: n for i, n in session.execute(select(WatchItem.id, WatchItem.number))}
        rows = session.execute(select(Followup, Page.url).join(Page, Page.id == Followup.page_id))
        return {
            url_key(url): {
                "items": {numbers[i] for i in f.watch_item_ids},
                "group": f.group_key,
                "version": f.version_id,
                "evidence": f.evidence,
            }
            for f, url in rows
        }


def articles(label: str | None = None) -> list[dict[str, Any]]:
    return [a for a in EXPECTED["articles"] if label is None or a["label"] == label]


# --- follow-ups ---------------------------------------------------------------------------------


def test_follow_ups_are_the_relevant_articles(discovery: Discovery) -> None:
    found = set(stored_followups(discovery.db))
    relevant = {url_key(a["url"]) for a in articles("relevant")}
    hits = found & relevant
    precision = len(hits) / len(found) if found else 0.0
    recall = len(hits) / len(relevant)
    assert (precision, recall) == (1.0, 1.0), (sorted(found - relevant), sorted(relevant - found))


def test_follow_ups_link_the_right_watch_items(discovery: Discovery) -> None:
    found = stored_followups(discovery.db)
    for article in articles("relevant"):
        row = found[url_key(article["url"])]
        assert set(article["items"]) <= row["items"], (article["url"], row["items"])
        assert row["version"] is not None and row["evidence"]


def test_syndicated_copies_share_a_group_key(discovery: Discovery) -> None:
    found = stored_followups(discovery.db)
    groups: dict[str, set[str]] = {}
    for article in articles("relevant"):
        name = article["group"] or article["url"]
        groups.setdefault(name, set()).add(found[url_key(article["url"])]["group"])
    assert all(len(keys) == 1 for keys in groups.values()), groups
    assert len({next(iter(keys)) for keys in groups.values()}) == len(groups)
    assert any(len([a for a in articles() if a["group"] == g]) == 2 for g in groups)


def test_every_new_article_is_stored_as_a_discovered_page(discovery: Discovery) -> None:
    with open_store(discovery.db).begin() as session:
        for article in articles():
            page = session.scalar(select(Page).where(Page.url_key == url_key(article["url"])))
            assert page is not None and page.origin == "discovered", article["url"]
            versions = session.scalar(select(func.count()).where(Version.page_id == page.id))
            assert versions == 1, article["url"]
            seen = session.scalar(select(SeenUrl).where(SeenUrl.url_key == page.url_key))
            assert seen is not None and seen.found_in


# --- what is fetched ----------------------------------------------------------------------------


def test_each_article_is_fetched_once_over_two_runs(discovery: Discovery) -> None:
    fetched = [replay_key(a["url"]) for a in articles()]
    first = [e["host"] + unquote(e["path"]) for e in discovery.first_log]
    assert all(first.count(key) == 1 for key in fetched), fetched
    assert not requested(discovery.second_log) & set(fetched)
    assert "0 new follow-up(s)" in discovery.second.stdout
    # The second run still read the endpoints: it found everything already seen.
    assert any("RSSNEWS.aspx" in e["path"] for e in discovery.second_log)


def test_cited_non_article_and_old_links_are_never_fetched(discovery: Discovery) -> None:
    everything = requested(discovery.first_log + discovery.second_log)
    for url in EXPECTED["cited"] + EXPECTED["never_fetched"]:
        assert replay_key(url) not in everything, url


def test_listing_api_is_asked_with_its_form(discovery: Discovery) -> None:
    politics = [f for f in discovery.forms if f.get("category") == ["politics"]]
    assert politics and politics[0] == {
        "action": ["4"],
        "category": ["politics"],
        "pageidx": ["1"],
        "pagesize": ["20"],
    }


# --- broken feeds and stats ---------------------------------------------------------------------


def test_broken_feeds_are_reported_and_skipped(discovery: Discovery) -> None:
    errors = {"abc_com_py": ("abc.com.py", 2), "ip_gov_py": ("ip.gov.py", 1)}
    errors["generic"] = ("taiwannews.com.tw", 1)
    for spider, (host, count) in errors.items():
        stats = run_stats(discovery.db, spider, host)
        assert [s.get("watchdesk/discovery/feed_error", 0) for s in stats] == [count, count]
    for paths in EXPECTED["broken"].values():
        for path in paths:
            assert path in discovery.first.stderr  # the warning names the feed
            assert path in discovery.first.stdout  # and the summary lists it
    with open_store(discovery.db).begin() as session:
        ip = session.scalar(select(Outlet).where(Outlet.host == "ip.gov.py"))
        assert ip is not None and ip.discovery_failures == 2
        assert "/ip/economia/feed/" in (ip.last_discovery_error or "")
        focus = session.scalar(select(Outlet).where(Outlet.host == "focustaiwan.tw"))
        assert focus is not None and (focus.discovery_failures, focus.last_discovery_error) == (
            0,
            None,
        )


def test_stats_count_links_and_follow_ups(discovery: Discovery) -> None:
    (first, second) = run_stats(discovery.db, "abc_com_py", "abc.com.py")
    for key in ("links", "seen", "new", "skipped_non_article"):
        assert first.get(f"watchdesk/discovery/{key}", 0) > 0, key
    relevant = [a for a in articles("relevant") if "abc.com.py" in a["url"]]
    others = [a for a in articles() if "abc.com.py" in a["url"] and a["label"] != "relevant"]
    assert first["watchdesk/discovery/new"] == len(relevant) + len(others)
    assert first["watchdesk/followup/found"] == len(relevant)
    assert first["watchdesk/followup/off_topic"] == len(others)
    assert second.get("watchdesk/discovery/new", 0) == 0
    assert second["watchdesk/discovery/seen"] >= first["watchdesk/discovery/new"]


def test_summary_names_outlets_and_follow_ups(discovery: Discovery) -> None:
    out = discovery.first.stdout
    assert f"{len(articles('relevant'))} new follow-up(s) for {SLUG}" in out
    for spider in ("president_gov_tw", "ip_gov_py", "abc_com_py", "focustaiwan_tw", "generic"):
        assert spider in out


def test_fixture_paths_exist() -> None:
    """Guard the ground truth: every article it names has a page in the replay."""
    for article in articles():
        host, _, path = replay_key(article["url"]).partition("/")
        folder = OUTLETS / "state1" / host / path
        assert folder.is_file() or (folder / "index.html").is_file(), article["url"]
    assert Path(OUTLETS / "PROVENANCE.md").is_file()
