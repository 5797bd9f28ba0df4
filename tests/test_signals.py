"""Stop signals: `watchdesk crawl` and `watchdesk daemon` stop within 5 s when told.

Each test runs the real command in a subprocess against a slow replay web on 127.0.0.1
(120 real article pages, 200 ms per answer, a politeness delay between requests), sends
SIGINT or SIGTERM once requests are flowing, and then checks: the exit code (128 + the
signal), the time from the signal to the exit, a stderr free of tracebacks, that the server
saw no new request after the signal, and that the store holds no lease and no check that
the interruption invented. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from crawler.demo.replay import ReplayServer
from scheduler import names
from storage.models import Fetch, Lease, Page
from tests.helpers import ROOT, run_cli, write_card
from tests.test_crawl import article_pages
from tests.test_daemon import SCHEDULE, query

pytestmark = pytest.mark.slow

HOSTS = 4
PAGE_COUNT = 120
#: Politeness on: a delay between two requests to a host, as in production (shorter).
POLITE = [
    *("-s", "DOWNLOAD_DELAY=0.3", "-s", "DOWNLOAD_DELAY_JITTER=0"),
    *("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=20"),
]
#: The promise: from the signal to the process's exit.
STOP_SECONDS = 5.0


def build_slow_web(root: Path, hosts: int) -> dict[str, str]:
    """Real article pages on `hosts` hosts, each answered after 200 ms (robots.txt at once);
    returns the card's name -> URL."""
    bodies = article_pages()
    urls, routes = {}, {}
    for index in range(PAGE_COUNT):
        host = f"s{index % hosts}.example"
        target = root / "state1" / host / "news" / f"{index}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bodies[index % len(bodies)])
        urls[f"page{index}"] = f"https://{host}/news/{index}"
    for number in range(hosts):
        routes[f"s{number}.example/*"] = {"delay": 0.2}
        routes[f"s{number}.example/robots.txt"] = {"delay": 0}
    (root / "state1" / "routes.yaml").write_text(yaml.safe_dump(routes))
    return urls


@pytest.fixture
def slow_web(tmp_path: Path) -> Iterator[tuple[ReplayServer, dict[str, str]]]:
    """The slow web on four hosts (one crawl, four download slots)."""
    urls = build_slow_web(tmp_path / "root", HOSTS)
    with ReplayServer(tmp_path / "root") as server:
        yield server, urls


@pytest.fixture
def slow_host(tmp_path: Path) -> Iterator[tuple[ReplayServer, dict[str, str]]]:
    """The slow web on one host: the daemon runs one crawl per host at once, and each crawl
    has its own extraction thread, which lxml does not survive for long (a "double free"
    abort seen with four hosts; see the report of this change)."""
    urls = build_slow_web(tmp_path / "root", 1)
    with ReplayServer(tmp_path / "root") as server:
        yield server, urls


def page_hits(server: ReplayServer) -> int:
    """Article requests that reached the server (counted on arrival, answered or not)."""
    return sum(
        server.hits(f"s{host}.example", f"/news/{index}")
        for index in range(PAGE_COUNT)
        for host in range(HOSTS)
    )


def wait_for_hits(server: ReplayServer, process: subprocess.Popen[str], count: int) -> None:
    """Wait until `count` article requests arrived (the crawl is in full swing)."""
    deadline = time.monotonic() + 60
    while page_hits(server) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.05)


def command(db: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", "--db", db, *args]


def environment(server: ReplayServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    return {**env, "WATCHDESK_HOST_MAP": json.dumps(server.host_map()), **extra}


def stop(process: subprocess.Popen[str], signum: int, server: ReplayServer) -> dict[str, object]:
    """Send `signum`, wait for the exit; what happened from the signal on."""
    hits = page_hits(server)
    signalled = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    elapsed = time.monotonic() - signalled
    return {
        "code": process.returncode,
        "elapsed": elapsed,
        "new_requests": page_hits(server) - hits,
        "out": out,
        "err": err,
    }


def assert_stopped_cleanly(result: dict[str, object], signum: int) -> None:
    err = str(result["err"])
    assert result["code"] == 128 + signum, (result["code"], err[-3000:])
    assert result["elapsed"] < STOP_SECONDS, result["elapsed"]
    assert "Traceback" not in err and "ReactorNotRunning" not in err, err[-3000:]
    # Requests already on their way may still land; nothing is started after the signal.
    assert result["new_requests"] <= HOSTS, result["new_requests"]


def assert_nothing_held_or_invented(db: str) -> None:
    """No page lease left, and no fetch row the interruption made up (a cut request is given
    back, never recorded as a failure of the page)."""

    def ask(session):  # type: ignore[no-untyped-def]
        held = session.scalar(select(func.count(Page.id)).where(Page.lease_owner.is_not(None)))
        invented = session.scalar(
            select(func.count(Fetch.id)).where(Fetch.outcome != "new_version")
        )
        checked = session.scalar(select(func.count(Fetch.id)))
        return held, invented, checked

    held, invented, checked = query(db, ask)
    assert held == 0
    assert invented == 0
    assert 0 < checked < PAGE_COUNT


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_crawl_stops_within_seconds_on_a_signal(
    db_url: str, slow_web: tuple[ReplayServer, dict[str, str]], tmp_path: Path, signum: int
) -> None:
    server, urls = slow_web
    added = run_cli("event", "add", str(write_card(tmp_path / "card.yaml", urls)), db=db_url)
    assert added.returncode == 0, added.stderr
    argv = command(db_url, "crawl", "--event", "crawl-cases", *POLITE)
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=environment(server),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_hits(server, process, 10)
    result = stop(process, signum, server)

    assert_stopped_cleanly(result, signum)
    name = signal.Signals(signum).name
    assert f"interrupted by {name}" in str(result["err"])
    assert "given back" in str(result["err"])
    assert_nothing_held_or_invented(db_url)


def test_daemon_stops_within_seconds_on_sigterm(
    db_url: str, slow_host: tuple[ReplayServer, dict[str, str]], tmp_path: Path
) -> None:
    server, urls = slow_host
    added = run_cli("event", "add", str(write_card(tmp_path / "card.yaml", urls)), db=db_url)
    assert added.returncode == 0, added.stderr
    argv = command(db_url, "daemon", "--tick", "1", *POLITE)
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=environment(server, **SCHEDULE),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_hits(server, process, 10)
    result = stop(process, signal.SIGTERM, server)

    assert_stopped_cleanly(result, signal.SIGTERM)
    assert "stopped" in str(result["err"])
    assert_nothing_held_or_invented(db_url)
    assert query(db_url, lambda s: s.get(Lease, names.DAEMON_LEASE)) is None
