"""Politeness benchmark: many hosts, the per-host delay on, a slow server.

90 pages on 30 hosts (listed host by host, as a card lists them) behind a replay server that
answers each request after 0.2 s, 4 concurrent requests, DOWNLOAD_DELAY=1 (jitter 0,
AutoThrottle off): the first pass and an unchanged (304) recheck, for each scheduler priority
queue. The bound is the same crawl with no delay: with 30 hosts, a host's three pages a second
apart (2.4 s) fit inside the time the global concurrency needs anyway (120 requests with
robots.txt x 0.2 s / 4 = 6 s), so the delay should cost (almost) nothing.

    python bench/politeness.py [--hosts 30] [--per-host 3] [--concurrency 4] [--delay 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recheck import register, timed  # noqa: E402
from crawler.demo.replay import ReplayServer  # noqa: E402

WORK = ROOT / "bench" / ".work" / "politeness"
QUEUES = {
    "HostReadyPriorityQueue (watchdesk)": "crawler.politeness.HostReadyPriorityQueue",
    "ScrapyPriorityQueue (Scrapy's default)": "scrapy.pqueues.ScrapyPriorityQueue",
    "DownloaderAwarePriorityQueue": "scrapy.pqueues.DownloaderAwarePriorityQueue",
}
PAGE = (
    "<html><head><title>Story {i}</title></head><body><h1>Story {i}</h1><p>{text}</p></body></html>"
)


def build(hosts: int, per_host: int, server_delay: float) -> list[str]:
    """Pages grouped by host, as an event card lists them; returns their real URLs."""
    root = WORK / "root" / "state1"
    root.mkdir(parents=True, exist_ok=True)
    urls, routes = [], []
    for h in range(hosts):
        host = f"h{h:02d}.polite.test"
        routes.append(f'"{host}/*": {{delay: {server_delay}}}')
        for i in range(per_host):
            text = f"Paragraph of story {h}-{i}, long enough to be an article body. " * 5
            target = root / host / "news" / f"{i}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(PAGE.format(i=f"{h}-{i}", text=text))
            urls.append(f"https://{host}/news/{i}")
    (root / "routes.yaml").write_text("{" + ", ".join(routes) + "}\n")
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--per-host", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--server-delay", type=float, default=0.2)
    args = parser.parse_args()
    urls = build(args.hosts, args.per_host, args.server_delay)
    settings = {
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "LOG_LEVEL": "WARNING",
    }
    fetch_bound = (len(urls) + args.hosts) * args.server_delay / args.concurrency
    host_bound = (args.per_host - 1) * args.delay + 2 * args.server_delay
    print(
        f"{len(urls)} pages on {args.hosts} hosts, {args.concurrency} concurrent, "
        f"delay {args.delay} s, server {args.server_delay} s; the delay alone allows "
        f"{max(fetch_bound, host_bound):.1f} s of crawling (pages and robots.txt / concurrency, "
        f"or a host's pages a delay apart); the bound is the same crawl with no delay"
    )
    with ReplayServer(WORK / "root", state="state1") as server:
        env = {**os.environ, "WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        runs = [("no delay (the bound)", QUEUES["HostReadyPriorityQueue (watchdesk)"], 0.0)]
        runs += [(name, queue, args.delay) for name, queue in QUEUES.items()]
        bound: dict[str, float] = {}
        for index, (name, queue, delay) in enumerate(runs):
            # A store per run: open_store keeps one engine per URL for the whole process.
            for stale in WORK.glob(f"bench{index}.db*"):
                stale.unlink()
            db_url = f"sqlite:///{WORK / f'bench{index}.db'}"
            register(db_url, urls)
            flags = [
                f"-s{key}={value}" for key, value in {**settings, "DOWNLOAD_DELAY": delay}.items()
            ]
            crawl = [sys.executable, "-m", "crawler", "--db", db_url, "crawl", "--outlet", "bench"]
            crawl += [*flags, f"-sSCHEDULER_PRIORITY_QUEUE={queue}"]
            for label in ("first pass", "304 recheck"):
                seconds, _, out = timed(crawl, env)
                bound.setdefault(label, seconds)
                checked = re.search(r"checked\D+(\d+)", out)
                print(
                    f"{name:40s} {label:12s} {seconds:5.1f} s  x{seconds / bound[label]:.2f} bound"
                    f"  ({checked[1] if checked else '?'} pages checked)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
