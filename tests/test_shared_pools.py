"""One extraction pool and one matcher per process, whatever the number of crawls in it.

A daemon tick over 20 hosts with new pages used to spawn a pool and a matcher per host job:
40 processes and 3.3 GB on a 2-core machine. The daemon test below runs a real
`watchdesk daemon --once` over six hosts whose pages are all new (each host job a crawl of
its own, overlapping behind a slow replay) and watches its child processes in /proc; the
`run_crawls` test runs two crawls one after the other in one command, as the demo and a
daemon's ticks do, and checks the second reuses the first one's workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy.settings import Settings
from sqlalchemy import func, select

from crawler.demo.replay import ReplayServer
from crawler.extract.pool import ExtractionPool
from crawler.shared_pools import Shared
from storage.db import open_store
from storage.models import Version
from tests import fleet
from tests.helpers import spawned_workers

PAGES, HOSTS, WORKERS = 12, 6, 2


def test_the_last_user_closes_the_pool_and_the_next_gets_a_new_one() -> None:
    shared = Shared(lambda settings: ExtractionPool(settings.getint("WATCHDESK_EXTRACT_WORKERS")))
    settings = Settings({"WATCHDESK_EXTRACT_WORKERS": 1})
    first = shared.acquire(settings)
    assert shared.acquire(settings) is first and shared.users == 2
    shared.release()
    assert shared.pool is first and not first._closed
    shared.release()
    assert shared.pool is None and first.start() is None  # closed: no process can start
    again = shared.acquire(settings)
    assert again is not first and again.workers == 1
    shared.release()
    shared.release()  # one release too many changes nothing
    assert shared.users == 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_daemon_tick_over_many_hosts_spawns_one_pool(tmp_path: Path, sqlite_url: str) -> None:
    fleet.build_site(tmp_path / "root", PAGES, HOSTS, latency=0.3)
    fleet.add_event(tmp_path, sqlite_url, "shared-pools", PAGES, HOSTS)
    with ReplayServer(tmp_path / "root") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
        env["WATCHDESK_HOST_MAP"] = json.dumps(server.host_map())
        settings = {
            "WATCHDESK_EXTRACT_WORKERS": WORKERS,
            "WATCHDESK_DISCOVERY_MINUTES": 0,
            "DOWNLOAD_DELAY": 0.5,
            "AUTOTHROTTLE_ENABLED": False,
        }
        flags = [part for name, value in settings.items() for part in ("-s", f"{name}={value}")]
        daemon = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--db", sqlite_url, "daemon", "--once", *flags],
            cwd=fleet.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        seen: set[int] = set()
        most = 0
        while daemon.poll() is None:
            alive = set(spawned_workers(daemon.pid))
            seen |= alive
            most = max(most, len(alive))
            time.sleep(0.05)
        output = daemon.communicate()[0].decode(errors="replace")
    assert daemon.returncode == 0, output[-3000:]
    with open_store(sqlite_url)() as session:
        assert session.scalar(select(func.count(Version.id))) == PAGES
    # Six host jobs, six crawls: one pool of WORKERS processes (and at most one matcher),
    # spawned once for the whole tick.
    assert 0 < most <= WORKERS + 1, (most, seen)
    assert len(seen) <= WORKERS + 1, seen


#: Two crawls in one `run_crawls`, one outlet after the other; prints the extraction pool's
#: worker pids after each, then whether a pool is left once the command is over.
_SEQUENTIAL = """
import json, sys
from crawler import shared_pools
from crawler.config import project_settings
from crawler.running import crawl_once, run_crawls

db, host_map, hosts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = project_settings({
    "WATCHDESK_DB": db, "WATCHDESK_HOST_MAP": host_map, "WATCHDESK_EXTRACT_WORKERS": 2,
    "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING",
})

async def main(runner):
    seen = []
    for host in hosts:
        stats = await crawl_once(runner, "watch", outlet=host)
        assert stats.get("watchdesk/version/new") == 2, stats
        seen.append(sorted(shared_pools.EXTRACTION.pool.pids()))
    return seen

seen = run_crawls(settings, main)
print(json.dumps({"pids": seen, "left": shared_pools.EXTRACTION.pool is not None}))
"""


@pytest.mark.slow
def test_a_commands_crawls_one_after_another_reuse_the_pool(
    tmp_path: Path, sqlite_url: str
) -> None:
    fleet.build_site(tmp_path / "root", 4, 2, latency=0.05)
    fleet.add_event(tmp_path, sqlite_url, "sequential", 4, 2)
    hosts = [fleet.host_name(h) for h in range(2)]
    with ReplayServer(tmp_path / "root") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
        argv = [sys.executable, "-c", _SEQUENTIAL, sqlite_url, json.dumps(server.host_map())]
        result = subprocess.run(
            [*argv, json.dumps(hosts)],
            cwd=fleet.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    first, second = report["pids"]
    assert len(first) == WORKERS and second == first  # the same warm workers for both
    assert report["left"] is False  # closed when the command ended
    assert not any(Path(f"/proc/{pid}").exists() for pid in first)
