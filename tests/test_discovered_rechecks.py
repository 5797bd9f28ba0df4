"""Discovered articles: a failed first fetch is retried; off-topic ones stop being rechecked.

Real discovery runs and real crawls (subprocesses) against the replay of the Presidential
Office's real site (tests/fixtures/outlets, ground truth in its expected.yaml: News/7134 is a
follow-up of the event, News/7135 is off-topic), on SQLite and PostgreSQL. The schedule is
moved in the store instead of waiting for it (a 15-minute retry backoff, a 3-day window).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from crawler.demo.replay import ReplayServer
from scheduler import state
from storage.db import open_store
from storage.models import Fetch, Followup, Page
from tests.helpers import run_cli
from tests.test_discover_crawl import CARD, FAST, OUTLETS, SLUG, TERMS

pytestmark = pytest.mark.slow

HOST = "english.president.gov.tw"
FOLLOWUP = f"https://{HOST}/News/7134"
OFF_TOPIC = f"https://{HOST}/News/7135"
ONCE = ("-s", "RETRY_TIMES=0")


@pytest.fixture
def outlet(tmp_path: Path) -> Iterator[tuple[ReplayServer, dict[str, str]]]:
    """The outlet's replay, where the follow-up answers 503 to its first request."""
    root = tmp_path / "outlets"
    shutil.copytree(OUTLETS, root)
    routes_file = root / "state1" / "routes.yaml"
    routes = yaml.safe_load(routes_file.read_text(encoding="utf-8"))
    routes[f"{HOST}/News/7134"] = {"status": 503, "fail_times": 1, "charset": "none"}
    routes_file.write_text(yaml.safe_dump(routes), encoding="utf-8")
    with ReplayServer(root) as server:
        yield server, {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}


def discover(db: str, env: dict[str, str]) -> None:
    result = run_cli("discover", "--event", SLUG, "--outlet", HOST, *FAST, *ONCE, db=db, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def crawl_due(db: str, env: dict[str, str]) -> None:
    result = run_cli("crawl", "--due", *FAST, *ONCE, db=db, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def followed(db: str, url: str) -> bool:
    with open_store(db)() as session:
        page = session.query(Page).filter_by(url=url).one()
        return session.query(Followup).filter_by(page_id=page.id).count() > 0


def make_due(db: str, *, discovered_days_ago: float = 0) -> None:
    """Every page due now; discovered pages first seen that many days ago."""
    now = datetime.now(UTC)
    with open_store(db).begin() as session:
        session.execute(update(Page).values(next_check_at=now - timedelta(minutes=1)))
        if discovered_days_ago:
            seen = now - timedelta(days=discovered_days_ago)
            session.execute(
                update(Page).where(Page.origin == "discovered").values(first_seen_at=seen)
            )


@pytest.fixture
def store(db_url: str) -> str:
    added = run_cli("event", "add", str(CARD), "--terms", str(TERMS), db=db_url)
    assert added.returncode == 0, added.stderr
    return db_url


@pytest.mark.parametrize("retry", ["discover", "crawl --due"])
def test_a_failed_first_fetch_is_retried_and_scored(
    store: str, outlet: tuple[ReplayServer, dict[str, str]], retry: str
) -> None:
    server, env = outlet
    discover(store, env)
    assert server.hits(HOST, "/News/7134") == 1
    assert not followed(store, FOLLOWUP)  # the 503: nothing to score yet

    make_due(store)
    (discover if retry == "discover" else crawl_due)(store, env)
    assert server.hits(HOST, "/News/7134") == 2
    assert followed(store, FOLLOWUP)
    with open_store(store)() as session:
        held = session.query(Page).filter(Page.lease_owner.is_not(None)).count()
    assert held == 0


def test_off_topic_articles_stop_being_rechecked(
    store: str, outlet: tuple[ReplayServer, dict[str, str]]
) -> None:
    server, env = outlet
    discover(store, env)
    make_due(store)
    discover(store, env)  # the follow-up's retry
    assert followed(store, FOLLOWUP) and not followed(store, OFF_TOPIC)

    make_due(store, discovered_days_ago=1)  # within WATCHDESK_DISCOVERED_RECHECK_DAYS (3)
    crawl_due(store, env)
    assert server.hits(HOST, "/News/7135") == 2  # still rechecked

    make_due(store, discovered_days_ago=4)  # past it
    with open_store(store)() as session:
        due = {p.url for p in state.due_pages(session, datetime.now(UTC))}
        assert FOLLOWUP in due and OFF_TOPIC not in due
        checks_before = session.query(Fetch).count()
    crawl_due(store, env)
    assert server.hits(HOST, "/News/7135") == 2  # left alone
    assert server.hits(HOST, "/News/7134") == 4  # the follow-up is still watched
    with open_store(store)() as session:
        assert session.query(Fetch).count() > checks_before
