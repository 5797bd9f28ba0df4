"""A fleet of workers against a latency-bound replay: shared by tests/test_workers.py and
bench/scaleout.py.

N article pages on M hosts (`hNNN.example`, mapped to a local replay server on 127.0.0.1
that answers each request after `latency` seconds), seeded as due pages in a store; worker
processes (`python -m crawler worker --once`) capped at a few concurrent requests each, so
one worker, not politeness, is the bottleneck; and what the server saw: requests per path
and the smallest gap between two requests to one host. Each worker sends its own
User-Agent (`worker_agent`), so the server's log tells a gap inside one worker from a gap
across a host's handover from one worker to another.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import yaml

from storage.db import open_store
from storage.repositories import ensure_page, get_or_create_outlet, utcnow
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent

#: Settings of every fleet worker: few requests at a time, a fixed per-host delay.
CONCURRENCY = 4
DELAY = 0.5

PAGE = """<!DOCTYPE html><html><head><title>Story {i} on {host}</title>
<meta property="article:published_time" content="2026-05-01T08:00:00Z"></head><body>
<article><h1>Story {i} on {host}</h1>
<p>The council of district {i} met on Monday to discuss the new budget for schools and roads,
officials said after a session that lasted well into the evening.</p>
<p>Members voted {i} to {j} on the measure, which now goes to the regional assembly for a
final reading before the summer recess, according to the minutes.</p>
<p>Residents who attended the meeting asked about the timetable for repairs on the main
bridge, closed since the floods in March.</p></article></body></html>
"""


#: Output files of the workers `start_workers` started, by pid.
_OUTPUT: dict[int, IO[bytes]] = {}


def host_name(index: int) -> str:
    """The name of the index-th fleet host."""
    return f"h{index:03d}.example"


def page_urls(pages: int, hosts: int) -> list[str]:
    """Real-looking URLs of the fleet's pages, spread round-robin over the hosts."""
    return [f"https://{host_name(i % hosts)}/news/{i}" for i in range(pages)]


def build_site(root: Path, pages: int, hosts: int, latency: float) -> None:
    """Write the pages under `root/state1` and a route that delays every answer."""
    state = root / "state1"
    for i, url in enumerate(page_urls(pages, hosts)):
        host = url.split("/")[2]
        target = state / host / "news" / f"{i}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(PAGE.format(i=i, j=i % 7, host=host), encoding="utf-8")
    routes = {f"{host_name(h)}/*": {"delay": latency} for h in range(hosts)}
    (state / "routes.yaml").write_text(yaml.safe_dump(routes), encoding="utf-8")


def seed(db_url: str, pages: int, hosts: int, stagger: float = 0.0) -> None:
    """Put every fleet page under watch, due now; with `stagger`, a host's k-th page is due
    k × `stagger` seconds from now instead, so hosts drain, are handed back and are taken
    again (by whichever worker asks first) while the round goes on."""
    sessions = open_store(db_url)
    now = utcnow()
    with sessions.begin() as session:
        outlets = {
            host_name(h): get_or_create_outlet(session, host_name(h), host_name(h))
            for h in range(hosts)
        }
        for i, url in enumerate(page_urls(pages, hosts)):
            page = ensure_page(session, url, outlets[url.split("/")[2]], origin="cited")
            if stagger:
                page.next_check_at = now + timedelta(seconds=stagger * (i // hosts))


def add_event(folder: Path, db_url: str, slug: str, pages: int, hosts: int) -> None:
    """The fleet pages as one event's sources (their outlets cited, so discovery is due),
    added through `watchdesk event add` as a newsroom would."""
    card = {
        "slug": slug,
        "title": f"Fleet event {slug}",
        "summary": "Pages a fleet keeps under watch together.",
        "watch": ["Whether the figures change."],
        "sources": [
            {"outlet": url.split("/")[2], "url": url, "language": "en"}
            for url in page_urls(pages, hosts)
        ],
    }
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    added = run_cli("event", "add", str(folder / "card.yaml"), db=db_url)
    assert added.returncode == 0, added.stderr


def worker_agent(index: int) -> str:
    """The User-Agent of the index-th fleet worker: the replay log names who sent what."""
    return f"watchdesk-fleet/worker-{index}"


def worker_argv(
    db_url: str, *extra: str, lease_seconds: float = 60, index: int = 0, once: bool = True
) -> list[str]:
    """The command line of one fleet worker (`--once`, unless told otherwise)."""
    settings = {
        "USER_AGENT": worker_agent(index),
        "CONCURRENT_REQUESTS": CONCURRENCY,
        "DOWNLOAD_DELAY": DELAY,
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_ENABLED": False,
        "WATCHDESK_LEASE_SECONDS": lease_seconds,
        "WATCHDESK_WORKER_POLL_SECONDS": 0.2,
        "WATCHDESK_WORKER_BATCH": 20,
    }
    flags = [part for name, value in settings.items() for part in ("-s", f"{name}={value}")]
    command = [sys.executable, "-m", "crawler", "--db", db_url, "worker"]
    return [*command, *(["--once"] if once else []), *flags, *extra]


def start_workers(
    db_url: str,
    host_map: dict[str, str],
    count: int,
    lease_seconds: float = 60,
    once: bool = True,
) -> list[subprocess.Popen[bytes]]:
    """Start `count` worker processes against the store.

    Their output goes to temporary files, not pipes: a long round logs more than a pipe
    holds, and a worker blocked on a full pipe nobody reads stops checking (`output`).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    env["WATCHDESK_HOST_MAP"] = json.dumps(host_map)
    processes = []
    for index in range(count):
        log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        process = subprocess.Popen(
            worker_argv(db_url, lease_seconds=lease_seconds, index=index, once=once),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _OUTPUT[process.pid] = log
        processes.append(process)
    return processes


def output(process: subprocess.Popen[bytes]) -> str:
    """What a worker started by `start_workers` printed (stdout and stderr)."""
    log = _OUTPUT[process.pid]
    log.seek(0)
    return log.read().decode(errors="replace")


def wait_all(processes: list[subprocess.Popen[bytes]], timeout: float) -> list[int]:
    """Wait for every process; their exit codes (a hung one is killed and raises)."""
    deadline = time.monotonic() + timeout
    codes = []
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        codes.append(process.returncode)
    return codes


@dataclass(frozen=True)
class Seen:
    """What the replay server saw of one round."""

    per_path: Counter[str]
    """host + path -> requests (article pages only)."""
    min_gap: float
    """Smallest time between two checks (article requests) of one host, in seconds."""
    min_gap_robots: float
    """The same with robots.txt requests included. Lower at a worker's start: Scrapy spaces
    requests from when it hands them to a connection, and a process's first connections
    reach the server late (the robots.txt), its next ones on time."""
    min_gap_within: float
    """Smallest gap between two checks of one host sent by the same worker."""
    min_gap_handover: float
    """Smallest gap between a worker's last request to a host and the next worker's first
    (robots.txt included: it is the new owner's first request), at each handover."""
    handovers: int
    """How often a host's next request came from another worker than its last one."""
    span: float
    """Seconds from the first request to the last answer."""

    @property
    def pages_per_second(self) -> float:
        """Article pages answered per second of the round."""
        return sum(self.per_path.values()) / self.span if self.span else 0.0


def seen(log: list[dict[str, Any]]) -> Seen:
    """Read the replay log of one round."""
    per_path: Counter[str] = Counter()
    checks: dict[str, list[float]] = defaultdict(list)
    every: dict[str, list[float]] = defaultdict(list)
    within: dict[str, list[float]] = defaultdict(list)
    by_host: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for entry in log:
        every[entry["host"]].append(entry["arrived"])
        by_host[entry["host"]].append((entry["arrived"], entry.get("user_agent") or ""))
        if entry["path"].startswith("/news/"):
            per_path[entry["host"] + entry["path"]] += 1
            checks[entry["host"]].append(entry["arrived"])
            within[f"{entry['host']} {entry.get('user_agent')}"].append(entry["arrived"])
    handover_gaps = [
        b[0] - a[0]
        for requests in by_host.values()
        for a, b in itertools.pairwise(sorted(requests))
        if a[1] != b[1]
    ]
    first = min(entry["arrived"] for entry in log) if log else 0.0
    last = max(entry["time"] for entry in log) if log else 0.0
    return Seen(
        per_path,
        _min_gap(checks),
        _min_gap(every),
        _min_gap(within),
        min(handover_gaps, default=float("inf")),
        len(handover_gaps),
        last - first,
    )


def _min_gap(times: dict[str, list[float]]) -> float:
    ordered = [sorted(ts) for ts in times.values()]
    return min((b - a for ts in ordered for a, b in itertools.pairwise(ts)), default=float("inf"))
