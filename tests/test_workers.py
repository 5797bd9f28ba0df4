"""Many workers on one store (issue 12): batches claimed with SKIP LOCKED, hosts leased
fleet-wide, every write fenced by its lease, dead workers' work taken over.

The fleet tests run real `watchdesk worker --once` processes against a replay server on
127.0.0.1 whose every answer takes ~200 ms (tests/fleet.py); they need PostgreSQL (several
processes writing at once is what SQLite cannot do), and one SQLite test runs the same code
path with a single worker.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from crawler.demo.replay import ReplayServer
from crawler.items import FetchedPage
from storage import leases, overview, workers
from storage.db import open_store
from storage.models import Fetch, HostLease, Page, Version, Worker
from storage.repositories import ensure_page, utcnow
from tests import fleet

LATENCY = 0.2
#: The replay's clock sees requests a little off the crawler's: Scrapy spaces requests as
#: it hands them to the connection, the server stamps them on arrival.
CLOCK_SLACK = 0.1


def counts(db_url: str) -> tuple[int, int, int, int]:
    """(pages, pages with exactly one fetch row, fetch rows, version rows)."""
    engine = create_engine(db_url)
    with Session(engine) as session:
        pages = session.scalar(select(func.count(Page.id)))
        per_page = select(Fetch.page_id).group_by(Fetch.page_id).having(func.count() == 1)
        once = session.scalar(select(func.count()).select_from(per_page.subquery()))
        fetches = session.scalar(select(func.count(Fetch.id)))
        versions = session.scalar(select(func.count(Version.id)))
    engine.dispose()
    return pages, once, fetches, versions


def leftovers(db_url: str) -> tuple[int, int, int]:
    """(page leases, host leases with an owner, worker rows) left after a round."""
    engine = create_engine(db_url)
    with Session(engine) as session:
        pages = session.scalar(select(func.count(Page.id)).where(Page.lease_owner.is_not(None)))
        hosts = session.scalar(
            select(func.count()).select_from(HostLease).where(HostLease.owner.is_not(None))
        )
        rows = session.scalar(select(func.count()).select_from(Worker))
    engine.dispose()
    return pages, hosts, rows


def run_round(root: Path, db_url: str, pages: int, hosts: int, count: int) -> fleet.Seen:
    """Seed, serve, run `count` workers to the end of the round; what the server saw."""
    fleet.seed(db_url, pages, hosts)
    with ReplayServer(root) as server:
        processes = fleet.start_workers(db_url, server.host_map(), count)
        codes = fleet.wait_all(processes, timeout=600)
        errors = [fleet.output(p)[-2000:] for p in processes if p.returncode]
        assert codes == [0] * count, errors
        return fleet.seen(server.log)


def test_one_worker_on_sqlite_checks_every_due_page_once(tmp_path: Path, sqlite_url: str) -> None:
    fleet.build_site(tmp_path / "root", 40, 8, LATENCY)
    seen = run_round(tmp_path / "root", sqlite_url, 40, 8, 1)
    assert len(seen.per_path) == 40 and set(seen.per_path.values()) == {1}
    assert seen.min_gap >= fleet.DELAY - CLOCK_SLACK
    assert counts(sqlite_url) == (40, 40, 40, 40)
    assert leftovers(sqlite_url) == (0, 0, 0)


@pytest.mark.slow
def test_three_workers_share_the_round_politely(tmp_path: Path, pg_schema) -> None:
    """Issue 12's round: 3000 due pages on 300 hosts, three workers. One worker's rate is
    measured on the first 600 pages / 60 hosts of the same site (the replay is
    latency-bound, so a rate needs no full round, and a full one alone would take minutes)."""
    pages, hosts = 3000, 300
    fleet.build_site(tmp_path / "sample", pages // 5, hosts // 5, LATENCY)
    alone = run_round(tmp_path / "sample", pg_schema(), pages // 5, hosts // 5, 1)
    fleet.build_site(tmp_path / "root", pages, hosts, LATENCY)
    store = pg_schema()
    three = run_round(tmp_path / "root", store, pages, hosts, 3)
    print(
        f"\n{pages} pages on {hosts} hosts, {LATENCY * 1000:.0f} ms replay, "
        f"{fleet.CONCURRENCY} requests per worker: 1 worker {alone.pages_per_second:.1f} "
        f"pages/s, 3 workers {three.pages_per_second:.1f} pages/s "
        f"({three.pages_per_second / alone.pages_per_second:.2f}x); "
        f"smallest gap between two checks of a host {three.min_gap:.3f} s "
        f"({three.min_gap_robots:.3f} s counting robots.txt; delay {fleet.DELAY} s)"
    )
    assert len(three.per_path) == pages and set(three.per_path.values()) == {1}
    assert three.min_gap >= fleet.DELAY - CLOCK_SLACK
    assert counts(store) == (pages, pages, pages, pages)
    assert leftovers(store) == (0, 0, 0)


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_doubles_nothing(tmp_path: Path, pg_schema) -> None:
    pages, hosts = 120, 24
    store = pg_schema()
    fleet.build_site(tmp_path / "root", pages, hosts, LATENCY)
    fleet.seed(store, pages, hosts)
    engine = create_engine(store)
    with ReplayServer(tmp_path / "root") as server:
        processes = fleet.start_workers(store, server.host_map(), 3, lease_seconds=3)
        by_pid = {process.pid: process for process in processes}
        victim, held = None, 0
        deadline = time.monotonic() + 60
        # Wait until some worker is mid-round: pages done, and it holds others. Not always
        # the first started: under load the others may take every host before it starts.
        while victim is None and time.monotonic() < deadline:
            with Session(engine) as session:
                holders = session.execute(
                    select(Page.lease_owner, func.count(Page.id))
                    .where(Page.lease_owner.is_not(None))
                    .group_by(Page.lease_owner)
                ).all()
                done = session.scalar(select(func.count(Fetch.id)))
            if done >= 5:
                for owner, count in holders:
                    pid = int(owner.split(":")[1])
                    if pid in by_pid:
                        victim, held = by_pid[pid], count
                        break
            time.sleep(0.05)
        assert victim is not None, "no worker held pages mid-round"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        codes = fleet.wait_all([p for p in processes if p is not victim], timeout=120)
        assert codes == [0, 0]
        seen = fleet.seen(server.log)
    engine.dispose()
    assert len(seen.per_path) == pages  # every page was asked for, the victim's too
    assert counts(store) == (pages, pages, pages, pages)  # each recorded exactly once
    assert leftovers(store) == (0, 0, 0)  # the victim's row and leases were reaped
    print(f"\nkill -9 mid-round: {held} pages taken over, 0 recorded twice")


# --- the leases themselves, on both backends ------------------------------------------------


def _pages(sessions: sessionmaker[Session], urls: list[str]) -> list[int]:
    with sessions.begin() as session:
        return [ensure_page(session, url, None, origin="adhoc").id for url in urls]


def _item(page: leases.ClaimedPage) -> FetchedPage:
    return FetchedPage(
        page_id=page.id,
        url=page.url,
        started_at=utcnow(),
        duration_ms=1.0,
        status=304,
        lease=page.lease,
    )


def test_a_worker_whose_lease_was_taken_over_cannot_write(
    sessions: sessionmaker[Session],
) -> None:
    (page_id,) = _pages(sessions, ["https://a.example/story"])
    now, ttl = utcnow(), timedelta(minutes=1)
    later = now + 2 * ttl  # A stalled (a GC pause, a frozen VM) past both its leases
    with sessions.begin() as session:
        assert leases.take_hosts(session, "A", 5, ttl, now) == ["a.example"]
        (stale,) = leases.claim_batch(session, "A", 10, 2, ttl, now)
    with sessions.begin() as session:  # B takes the host and the page over
        assert leases.take_hosts(session, "B", 5, ttl, later) == ["a.example"]
        (fresh,) = leases.claim_batch(session, "B", 10, 2, ttl, later)
    assert fresh.id == stale.id == page_id and fresh.lease[1] == stale.lease[1] + 1
    with sessions.begin() as session:  # A wakes up: renewing does not win the page back
        leases.renew(session, "A", [page_id], ttl, later)
        assert session.get(Page, page_id).lease_owner == "B"
    with sessions.begin() as session:
        assert leases.record_leased_checks(session, [_item(stale)], now=later) == [None]
    with sessions.begin() as session:
        assert session.scalar(select(func.count(Fetch.id))) == 0
        (result,) = leases.record_leased_checks(session, [_item(fresh)], now=later)
        assert result is not None
    with sessions() as session:
        assert session.scalar(select(func.count(Fetch.id))) == 1
        assert session.get(Page, page_id).lease_owner is None


def test_a_host_has_one_owner_and_is_handed_over_after_the_delay(
    sessions: sessionmaker[Session],
) -> None:
    _pages(sessions, ["https://a.example/1", "https://a.example/2", "https://b.example/1"])
    now, ttl, delay = utcnow(), timedelta(minutes=1), timedelta(seconds=2)
    with sessions.begin() as session:
        assert leases.take_hosts(session, "A", 1, ttl, now) == ["a.example"]
        assert leases.take_hosts(session, "B", 5, ttl, now) == ["b.example"]
        assert leases.take_hosts(session, "C", 5, ttl, now) == []
        mine = leases.claim_batch(session, "A", 10, 1, ttl, now)  # one per host per batch
        assert [p.host for p in mine] == ["a.example"]
        assert leases.claim_batch(session, "C", 10, 2, ttl, now) == []  # holds no host
    with sessions.begin() as session:  # a page in flight, another due: A keeps the host
        assert leases.release_drained_hosts(session, "A", now, delay) == []
        rest = leases.claim_batch(session, "A", 10, 2, ttl, now)
        leases.record_leased_checks(session, [_item(p) for p in mine + rest], now=now)
    with sessions.begin() as session:  # drained: handed back, free after the delay only
        assert leases.release_drained_hosts(session, "A", now, delay) == ["a.example"]
        assert leases.held_hosts(session, "A", now) == []
    with sessions.begin() as session:
        session.execute(text("UPDATE page SET next_check_at = NULL"))  # due again
        assert leases.take_hosts(session, "C", 5, ttl, now + delay / 2) == []
        assert leases.take_hosts(session, "C", 5, ttl, now + delay * 2) == ["a.example"]


def test_a_worker_that_stops_beating_is_reaped(sessions: sessionmaker[Session]) -> None:
    (page_id,) = _pages(sessions, ["https://a.example/story"])
    now, ttl = utcnow(), timedelta(seconds=30)
    with sessions.begin() as session:
        session.add(
            Worker(
                name="gone",
                host="another-machine",
                pid=1,
                started_at=now - ttl * 3,
                heartbeat_at=now - ttl * 2,
            )
        )
        workers.beat(session, "alive", now)
        leases.take_hosts(session, "gone", 5, ttl, now)
        leases.claim_batch(session, "gone", 10, 2, ttl, now)
    with sessions.begin() as session:
        assert workers.reap(session, "alive", now, ttl, timedelta(seconds=1)) == ["gone"]
    with sessions() as session:
        assert session.get(Page, page_id).lease_owner is None
        assert session.get(HostLease, "a.example").owner is None
        assert [w.name for w in overview.list_workers(session, now)] == ["alive"]


def test_open_store_knows_the_new_tables(db_url: str) -> None:
    sessions = open_store(db_url)
    with sessions() as session:
        assert leases.due_count(session, utcnow()) == 0
