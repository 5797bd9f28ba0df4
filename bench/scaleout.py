"""Scale-out benchmark: 1–4 `watchdesk worker --once` processes sharing one PostgreSQL.

3000 due pages on 300 hosts behind a local replay server whose every answer takes ~200 ms
(tests/fleet.py), each worker capped at a few concurrent requests, so the workers — not
politeness — are the bottleneck. Per worker count: a fresh schema, one round, pages/s
(first request to last answer at the server), wall time with process start, the smallest
gap between two checks of one host — overall, within one worker, and across a host's
handover from one worker to the next (each worker sends its own User-Agent) — pages
requested more than once, and PostgreSQL writes per check (rows written in the round's
schema, `pg_stat_user_tables`, / pages).

    python bench/scaleout.py [--pages 3000] [--hosts 300] [--workers 1,2,3,4]
                             [--stagger S] [--log-dir DIR]

`--stagger S` makes a host's k-th page due about k × S seconds after seeding instead of at
once: hosts drain and are handed over between workers mid-round, which a round of pages all
due at once never does (each host is drained by one worker and nobody wants it back). The
workers then run without `--once` and are stopped (SIGTERM) once every page was asked for.
`--log-dir` keeps each round's replay log (`workers-N.json`: every request with its
arrival time and User-Agent) for a closer look at the gaps.

Needs the PostgreSQL of WATCHDESK_TEST_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from crawler.demo.replay import ReplayServer  # noqa: E402
from tests import fleet  # noqa: E402

PG_URL = os.environ.get("WATCHDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LATENCY = 0.2


def tuples_written(admin, schema: str) -> int:
    """Rows inserted + updated + deleted so far in the tables of `schema` (this round's
    store only: other users of the database do not count)."""
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = connection.execute(
            text(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                "FROM pg_stat_user_tables WHERE schemaname = :schema"
            ),
            {"schema": schema},
        ).one()
    return int(row[0])


def one_round(root: Path, args: argparse.Namespace, count: int, admin) -> dict[str, float]:
    """A fresh schema, seeded, and `count` workers to the end of the round."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        pages, hosts, log_dir = args.pages, args.hosts, args.log_dir
        fleet.seed(url, pages, hosts, args.stagger)
        time.sleep(1.5)  # backends flush their table statistics about once a second
        before = tuples_written(admin, schema)
        with ReplayServer(root) as server:
            started = time.monotonic()
            if args.stagger:  # `--once` would stop in a lull: stop them once all is asked
                workers = fleet.start_workers(url, server.host_map(), count, once=False)
                while len(fleet.seen(server.log).per_path) < pages:
                    time.sleep(0.5)
                time.sleep(2)  # the last answers recorded
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                codes = [0 if code == 143 else code for code in fleet.wait_all(workers, 60)]
            else:
                codes = fleet.wait_all(fleet.start_workers(url, server.host_map(), count), 1800)
            wall = time.monotonic() - started
            seen = fleet.seen(server.log)
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                (log_dir / f"workers-{count}.json").write_text(json.dumps(server.log))
        time.sleep(1.5)
        writes = tuples_written(admin, schema) - before
        assert codes == [0] * count, codes
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return {
        "pages/s": seen.pages_per_second,
        "wall": wall,
        "gap": seen.min_gap,
        "gap_robots": seen.min_gap_robots,
        "gap_within": seen.min_gap_within,
        "gap_handover": seen.min_gap_handover,
        "handovers": seen.handovers,
        "twice": sum(1 for n in seen.per_path.values() if n > 1),
        "missing": pages - len(seen.per_path),
        "writes/check": writes / pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--workers", default="1,2,3,4")
    parser.add_argument("--stagger", type=float, default=0.0, metavar="S")
    parser.add_argument("--log-dir", type=Path)
    args = parser.parse_args()
    admin = create_engine(PG_URL)
    root = Path(tempfile.mkdtemp(prefix="scaleout-"))
    fleet.build_site(root, args.pages, args.hosts, LATENCY)
    print(
        f"{args.pages} pages on {args.hosts} hosts, {LATENCY * 1000:.0f} ms replay, "
        f"{fleet.CONCURRENCY} concurrent requests and {fleet.DELAY} s delay per host per worker"
        + (f", a host's pages due {args.stagger} s apart" if args.stagger else "")
    )
    columns = [
        "workers",
        "pages/s",
        "x one",
        "wall s",
        "min gap s (robots.txt incl.)",
        "within one worker s",
        "at a handover s (handovers)",
        "twice",
        "missing",
        "PG writes/check",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    base = None
    for count in [int(n) for n in args.workers.split(",")]:
        r = one_round(root, args, count, admin)
        base = base or r["pages/s"]
        print(
            f"| {count} | {r['pages/s']:.1f} | {r['pages/s'] / base:.2f} | {r['wall']:.1f} | "
            f"{r['gap']:.3f} ({r['gap_robots']:.3f}) | {r['gap_within']:.3f} | "
            f"{r['gap_handover']:.3f} ({r['handovers']}) | {r['twice']} | {r['missing']} | "
            f"{r['writes/check']:.1f} |",
            flush=True,
        )
    admin.dispose()


if __name__ == "__main__":
    main()
