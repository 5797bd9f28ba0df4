"""Recheck benchmark: N real corpus pages on a local replay server.

Passes, each a separate process (as a user runs them), against the same URLs and settings:
  ceiling   fetch-only Scrapy crawl (bench/fetch_only.py): the speed to beat
  first     `watchdesk crawl`: fetch, extract, store N first versions
  recheck   `watchdesk crawl` again, nothing changed (conditional requests -> 304)
  edited    `watchdesk crawl` after 10 % of the pages were edited
For each: pages/s, ratio to the ceiling, peak RSS; then the database size.

    python bench/recheck.py [--pages 1000] [--hosts 20] [--repeat 5] [--cited]

`--cited`: an event card cites every page, so each change of the edited pass is linked to
its watch items (the crawl's matcher process runs); without it no event cites them.

Each pass is a whole process, start-up included, for the ceiling as for watchdesk.

    python bench/recheck.py --side-by-side [--pages 1000] [--repeat 1]

runs the shared side-by-side harness instead (`../shared/bench/side_by_side.py`: the same
1000 scrapinghub pages under 50 hosts for watchdesk, urlwatch 2.29, a fetch-only Scrapy spider
and a Scrapy spider extracting in a process pool, every pass of every tool in one run) with
this virtualenv, and prints its figures as a table with the ratios of that one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.settings import BENCH_SETTINGS  # noqa: E402
from crawler.demo.replay import ReplayServer  # noqa: E402
from storage.db import open_store  # noqa: E402
from storage.repositories import ensure_page, get_or_create_outlet  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction-benchmark"
WORK = ROOT / "bench" / ".work"
EDIT = "<p>Update: officials confirmed on Tuesday that the figures in this report were revised after a second review by the ministry.</p>"  # noqa: E501


def corpus_pages(limit: int) -> list[Path]:
    """Real saved pages, in a stable order (the readability sets' expected output excluded)."""
    pages = sorted(p for p in CORPUS.rglob("*.htm*") if "expected" not in p.name)
    if len(pages) < limit:
        raise SystemExit(f"only {len(pages)} corpus pages under {CORPUS}; need {limit}")
    return pages[:limit]


def read_page(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def edited(body: bytes) -> bytes:
    """Insert a sentence after the first long paragraph: an edit extraction must see."""
    match = re.search(rb"<p[^>]*>[^<]{120,}", body)
    if match is None:
        return body.replace(b"</body>", EDIT.encode() + b"</body>", 1)
    end = body.find(b"</p>", match.end())
    at = end + 4 if end != -1 else match.end()
    return body[:at] + EDIT.encode() + body[at:]


def build_sites(pages: list[Path], hosts: int) -> list[str]:
    """Write state1 (as saved) and state2 (10 % edited) replay folders; return the real URLs."""
    shutil.rmtree(WORK / "root", ignore_errors=True)
    urls = []
    for index, path in enumerate(pages):
        host = f"news{index % hosts:02d}.bench.test"
        body = read_page(path)
        for state, data in (
            ("state1", body),
            ("state2", edited(body) if index % 10 == 0 else body),
        ):
            target = WORK / "root" / state / host / "article" / f"{index}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        urls.append(f"https://{host}/article/{index}")
    return urls


def register(db_url: str, urls: list[str]) -> None:
    sessions = open_store(db_url)
    with sessions.begin() as session:
        outlet = get_or_create_outlet(session, "bench", None)
        for url in urls:
            ensure_page(session, url, outlet, origin="bench")


def cite(db_url: str, urls: list[str], env: dict[str, str]) -> None:
    """Add an event whose card cites every page, with watch items the edit bears on."""
    card = {
        "slug": "bench-cited",
        "title": "Ministry revises the figures of its reports",
        "summary": "Officials revised published figures after a second review by the ministry.",
        "watch": [
            "Whether officials confirm that the figures in the report were revised.",
            "Whether the ministry completes a second review of the report.",
            "Whether the government publishes a new budget.",
        ],
        "sources": [{"outlet": "bench", "url": url, "language": "en"} for url in urls],
    }
    path = WORK / "card.yaml"  # JSON is YAML
    path.write_text(json.dumps(card))
    argv = [sys.executable, "-m", "crawler", "--db", db_url, "event", "add", str(path)]
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a pass; return seconds, peak RSS (KiB) and stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"pass failed ({status}): {' '.join(argv)}")
    return time.perf_counter() - started, usage.ru_maxrss, out


SIDE_BY_SIDE = ROOT.parent / "shared" / "bench" / "side_by_side.py"
#: One row of the harness's summary: pass, then pages/s of watchdesk, urlwatch, fetch-only
#: Scrapy, Scrapy + trafilatura, then watchdesk / urlwatch and watchdesk / its ceiling.
_ROW = re.compile(r"^(first|unchanged|edited)\s+" + r"\s+".join([r"([\d.]+|nan)"] * 6) + r"\s*$")


#: Outside the repository: the ceiling spiders run `scrapy runspider` in it, and under this
#: checkout Scrapy would find our scrapy.cfg and crawl with watchdesk's settings.
SIDE_BY_SIDE_WORK = Path(tempfile.gettempdir()) / "watchdesk-side-by-side"


def side_by_side(pages: int, repeat: int, work: Path) -> None:
    """Run the shared harness with this virtualenv; print its table with the ratios."""
    argv = [sys.executable, str(SIDE_BY_SIDE), "--watchdesk-venv", sys.prefix]
    argv += ["--n", str(pages), "--reps", str(repeat), "--work", str(work)]
    process = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = process.stdout.splitlines()
    if process.returncode != 0:
        raise SystemExit(
            f"side_by_side.py failed:\n{process.stdout[-2000:]}{process.stderr[-2000:]}"
        )
    print("\n".join(line for line in lines if line.startswith("rep")))
    print("\n| pass | watchdesk | urlwatch | fetch-only Scrapy | Scrapy + trafilatura pool "
          "| × urlwatch | × ceiling |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for line in lines:
        row = _ROW.match(line)
        if row:
            print("| " + " | ".join(row.groups()) + " |")
    ceilings = "ceiling: the extract ceiling for first/edited, fetch-only for unchanged"
    print(f"\n{ceilings}; " + next((line for line in lines if line.startswith("PERF")), ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cited", action="store_true", help="an event cites every page")
    parser.add_argument("--side-by-side", action="store_true", help="run ../shared/bench's harness")
    parser.add_argument("--work", type=Path, default=SIDE_BY_SIDE_WORK, help="its work folder")
    args = parser.parse_args()
    if args.side_by_side:
        side_by_side(args.pages, args.repeat, args.work)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    urls = build_sites(corpus_pages(args.pages), args.hosts)
    (WORK / "urls.txt").write_text("\n".join(urls))
    db_path = WORK / "bench.db"
    for stale in WORK.glob("bench.db*"):
        stale.unlink()
    db_url = f"sqlite:///{db_path}"
    register(db_url, urls)
    settings = [f"-s{name}={value}" for name, value in BENCH_SETTINGS.items()]
    crawl = [
        sys.executable,
        "-m",
        "crawler",
        "--db",
        db_url,
        "crawl",
        "--outlet",
        "bench",
        *settings,
    ]
    ceiling = [sys.executable, "bench/fetch_only.py", str(WORK / "urls.txt")]
    # The ceiling and the unchanged recheck leave nothing behind, so they run `--repeat`
    # times, interleaved, and the median counts: one pass is a few seconds on a shared
    # 2-core machine, where a single run can be off by a third.
    plan = [("ceiling (fetch-only Scrapy)", ceiling, "state1")]
    plan.append(("watchdesk first pass", crawl, "state1"))
    for _ in range(args.repeat):
        plan.append(("ceiling (fetch-only Scrapy)", ceiling, "state1"))
        plan.append(("watchdesk unchanged recheck", crawl, "state1"))
    plan.append(("watchdesk 10 % edited", crawl, "state2"))
    runs: dict[str, list[tuple[float, int]]] = {}
    with ReplayServer(WORK / "root", state="state1") as server:
        env = {**os.environ, "WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        if args.cited:
            cite(db_url, urls, env)
        for name, argv, state in plan:
            server.set_state(state)
            seconds, rss, _ = timed(argv, env)
            runs.setdefault(name, []).append((seconds, rss))
            print(
                f"{name:32s} {len(urls) / seconds:8.1f} pages/s  {seconds:6.1f} s"
                f"  peak RSS {rss / 1024:6.0f} MiB",
                flush=True,
            )
    medians = {
        name: (statistics.median(s for s, _ in got), max(r for _, r in got), len(got))
        for name, got in runs.items()
    }
    ceiling_rate = len(urls) / medians["ceiling (fetch-only Scrapy)"][0]
    print()
    print("| pass | runs | pages/s (median) | × ceiling | seconds | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (seconds, rss, count) in medians.items():
        rate = len(urls) / seconds
        print(
            f"| {name} | {count} | {rate:.1f} | {rate / ceiling_rate:.2f} | {seconds:.1f} "
            f"| {rss / 1024:.0f} |"
        )
    ceilings = [s for s, _ in runs["ceiling (fetch-only Scrapy)"][1:]]
    rechecks = [s for s, _ in runs["watchdesk unchanged recheck"]]
    pairs = [c / r for c, r in zip(ceilings, rechecks, strict=True)]
    print(
        f"\nunchanged recheck / the ceiling run just before it: "
        f"{', '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f})"
    )
    size = sum(p.stat().st_size for p in WORK.glob("bench.db*"))
    print(
        f"\nN = {len(urls)} pages on {args.hosts} hosts; "
        f"database {size / 1e6:.1f} MB (SQLite, incl. WAL)"
    )


if __name__ == "__main__":
    main()
