"""Two `watchdesk daemon` processes on one PostgreSQL store, active-active (issue 12).

Both check pages (each host leased to one of them at a time, page claims fenced), the leader
alone sends the digest, each outlet's discovery runs once, and when the leader is killed
with -9 the other daemon leads at once. The daemons are real processes against one local
replay server with several hosts (tests/fleet.py pages); each sends its own User-Agent, so
the server's log says which daemon asked for what.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.demo.replay import ReplayServer
from scheduler import names
from storage.models import Fetch, Lease, Page, Run
from tests import fleet
from tests.test_daemon import FAST, SCHEDULE, Daemon, edit, query, wait_for
from tests.test_notify import Receiver
from tests.test_workers import CLOCK_SLACK

SLUG = "fleet-daemons"
PAGES, HOSTS = 18, 6
DELAY = 0.5
#: Each daemon: a politeness delay (the handover must hold it across daemons), two hosts at
#: a time (so neither takes every host in one tick), discovery due once in the test.
SETTINGS = [
    *FAST,
    *("-s", f"DOWNLOAD_DELAY={DELAY}", "-s", "DOWNLOAD_DELAY_JITTER=0"),
    *("-s", "WATCHDESK_WORKER_HOSTS=2"),
]


def build_root(root: Path) -> None:
    """state1: the fleet pages; state2: the same with one page of h000 edited."""
    fleet.build_site(root, PAGES, HOSTS, latency=0.05)
    shutil.copytree(root / "state1", root / "state2")
    page = root / "state2" / fleet.host_name(0) / "news" / "0.html"
    page.write_bytes(edit(page.read_bytes()))


def fetches_per_page(db: str) -> dict[str, list]:
    def ask(session) -> dict[str, list]:
        rows = session.execute(
            select(Page.url, Fetch.started_at).join(Fetch).order_by(Fetch.started_at)
        )
        found: dict[str, list] = defaultdict(list)
        for url, started in rows:
            found[url].append(started)
        return found

    return query(db, ask)


def run_the_fleet(
    db: str, server: ReplayServer, receiver: Receiver, daemons: list[Daemon]
) -> tuple[dict[str, Daemon], str, str, float]:
    """Two rounds, an edit, its digest; then the leader is killed and the other leads."""
    owners = {daemon.owner(): daemon for daemon in daemons}
    checked = fetches_per_page
    wait_for(
        lambda: len(checked(db)) == PAGES and all(len(t) >= 2 for t in checked(db).values()), 60
    )
    server.set_state("state2")
    wait_for(lambda: receiver.bodies, 30)
    time.sleep(5)  # more digest times pass: nothing new, nothing sent again
    leader = query(db, lambda s: s.get(Lease, names.DAEMON_LEASE).owner)
    assert len(receiver.bodies) == 1, receiver.bodies
    assert "57 people had been evacuated" in json.loads(receiver.bodies[0])["message"]

    owners[leader].process.kill()  # the leader dies; its lease has 300 s to run
    owners[leader].process.wait(timeout=10)
    (survivor,) = set(owners) - {leader}
    started = time.monotonic()
    wait_for(
        lambda: (
            query(db, lambda s: getattr(s.get(Lease, names.DAEMON_LEASE), "owner", 0)) == survivor
        ),
        15,
    )
    took_over = time.monotonic() - started
    assert owners[survivor].stop() == 143, owners[survivor].log()[-3000:]
    return owners, leader, survivor, took_over


@pytest.mark.slow
def test_two_daemons_share_the_pages_and_send_one_digest(tmp_path: Path, pg_schema) -> None:
    db = pg_schema()
    build_root(tmp_path / "root")
    fleet.add_event(tmp_path, db, SLUG, PAGES, HOSTS)
    with ReplayServer(tmp_path / "root") as server, Receiver() as receiver:
        env = {
            **SCHEDULE,
            "WATCHDESK_HOST_MAP": json.dumps(server.host_map()),
            "WATCHDESK_REPORTS_DIR": str(tmp_path / "reports"),
            "WATCHDESK_DIGEST_CRON": "*/2 * * * * *",
            "WATCHDESK_NOTIFY_URLS": receiver.url,
            "WATCHDESK_DISCOVERY_MINUTES": "10",
            "WATCHDESK_DAEMON_LEASE_SECONDS": "300",  # a dead leader is reaped, not waited for
            "WATCHDESK_LEASE_SECONDS": "6",
        }
        daemons = [
            Daemon(db, env, tmp_path / f"{name}.log", *SETTINGS, "-s", f"USER_AGENT={name}")
            for name in ("daemon-a", "daemon-b")
        ]
        try:
            owners, leader, survivor, took_over = run_the_fleet(db, server, receiver, daemons)
        finally:
            for daemon in daemons:
                if daemon.process.poll() is None:
                    daemon.process.kill()
                    daemon.process.wait(timeout=10)
        log = list(server.log)

    # Both daemons checked pages; every page once per round (a page is due again 3-3.5 s
    # after a check: two checks of a page closer than 1.5 s would be one round twice).
    article = [e for e in log if e["path"].startswith("/news/")]
    by_daemon = Counter(e["user_agent"] for e in article)
    assert set(by_daemon) == {"daemon-a", "daemon-b"} and min(by_daemon.values()) > 0, by_daemon
    for url, times in fetches_per_page(db).items():
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 1.5, (url, gaps)
    per_path = Counter(e["host"] + e["path"] for e in article)
    fetch_rows = query(db, lambda s: s.scalar(select(func.count(Fetch.id))))
    assert sum(per_path.values()) >= fetch_rows  # every recorded check was one request

    # A host has one daemon at a time: across a handover, the delay held at the server.
    handovers = []
    for host in {e["host"] for e in log}:
        requests = sorted((e["arrived"], e["user_agent"]) for e in log if e["host"] == host)
        handovers += [b[0] - a[0] for a, b in itertools.pairwise(requests) if a[1] != b[1]]
    assert handovers and min(handovers) >= DELAY - CLOCK_SLACK, sorted(handovers)[:5]

    # Each outlet's discovery ran once (the generic spider reads each home page once).
    homes = Counter(e["host"] for e in log if e["path"] == "/")
    assert homes == {fleet.host_name(h): 1 for h in range(HOSTS)}, homes
    kinds = query(db, lambda s: Counter(s.scalars(select(Run.kind))))
    assert kinds["generic"] == HOSTS, kinds

    digests = list((tmp_path / "reports" / SLUG).glob("digest-*.md"))
    assert len(digests) == 1, digests  # the leader's; the other daemon wrote none
    leader_log = owners[leader].log()
    assert re.search(rf"daemon {re.escape(leader)} leads", leader_log)
    assert f"{leader} leads until" in owners[survivor].log()
    print(
        f"\n2 daemons, {PAGES} pages on {HOSTS} hosts: article requests per daemon "
        f"{dict(by_daemon)}; {len(handovers)} host handovers between them, smallest gap "
        f"{min(handovers):.3f} s (delay {DELAY} s); leader taken over {took_over:.1f} s "
        "after its kill -9"
    )
