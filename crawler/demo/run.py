"""The demo: the seed event's cited articles replayed locally in two states.

Steps: start a replay server on 127.0.0.1 (`crawler/demo/pages/state1`), add the seed card,
crawl; switch to state 2, crawl twice (the second check confirms the removal and sees the
503 recover); print what was found and write the reports. Nothing leaves this machine.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from scrapy.crawler import AsyncCrawlerRunner

from crawler.cards import card_digest, parse_card
from crawler.config import project_settings
from crawler.matching import load_overrides
from crawler.replay import ReplayServer
from crawler.reports import render
from crawler.running import run_crawls
from storage.db import open_store
from storage.reporting import build_report
from storage.repositories import get_event, upsert_event, utcnow

HERE = Path(__file__).parent
PAGES = HERE / "pages"
CARD = HERE / "paraguay-pena-taiwan-2026.md"
TERMS = HERE / "terms" / "paraguay-pena-taiwan-2026.yaml"
SLUG = "paraguay-pena-taiwan-2026"

#: The replay is local: no politeness delay is owed to it, and backoff can be short.
DEMO_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "WATCHDESK_RETRY_BACKOFF_BASE": 0.2,
    "WATCHDESK_RETRY_BACKOFF_MAX": 1.0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
}


@dataclass
class DemoRun:
    """What the demo did, for the command to print and tests to check."""

    db_url: str
    out_dir: Path
    stats: list[dict[str, Any]]
    seconds: float
    reports: dict[str, Path]


def add_seed_card(db_url: str) -> str:
    """Store the seed card and its editor terms; returns the slug."""
    text = CARD.read_text(encoding="utf-8")
    card = parse_card(text, name=CARD.name)
    sessions = open_store(db_url)
    with sessions.begin() as session:
        upsert_event(session, card, card_digest(card), text)
        event = get_event(session, card.slug)
        assert event is not None
        event.match_overrides = load_overrides(TERMS.read_text(encoding="utf-8"))
    return card.slug


def run_demo(console: Console, out_dir: Path, db_url: str | None = None) -> DemoRun:
    """Run the whole demo and return what it did."""
    started, began = time.monotonic(), utcnow() - timedelta(seconds=1)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{out_dir / 'demo.db'}"
    slug = add_seed_card(db_url)
    console.print(f"[bold]1.[/bold] added the seed card [cyan]{slug}[/cyan] to {db_url}")
    with ReplayServer(PAGES, state="state1") as server:
        settings = project_settings(
            {
                **DEMO_SETTINGS,
                "WATCHDESK_DB": db_url,
                "LOG_LEVEL": "WARNING",
                "WATCHDESK_HOST_MAP": json.dumps(server.host_map()),
            }
        )
        console.print(f"[bold]2.[/bold] replay web on {server.base_url} (state 1)")
        stats = run_crawls(settings, lambda runner: _crawls(runner, server, console, slug))
    reports = write_reports(db_url, slug, out_dir, since=began)
    return DemoRun(db_url, out_dir, stats, time.monotonic() - started, reports)


def write_reports(db_url: str, slug: str, out_dir: Path, since: datetime) -> dict[str, Path]:
    """Write the report of everything the demo found in each format; returns the paths."""
    sessions = open_store(db_url)
    with sessions() as session:
        report = build_report(session, slug, since, utcnow())
    paths = {}
    for fmt in ("md", "html", "json"):
        path = out_dir / f"report.{fmt}"
        path.write_text(render(report, fmt), encoding="utf-8")
        paths[fmt] = path
    return paths


async def _crawls(
    runner: AsyncCrawlerRunner, server: ReplayServer, console: Console, slug: str
) -> list[dict[str, Any]]:
    from crawler.cli.crawl import print_summary, watch_with_progress

    results = []
    steps = [
        ("state1", "first crawl: the articles as cited"),
        ("state2", "the outlets edit, correct, fail and remove; crawl again"),
        ("state2", "one more check: removals are confirmed, the 503 has recovered"),
    ]
    for number, (state, label) in enumerate(steps, start=3):
        if server.state != state:
            server.set_state(state)
        console.print(f"[bold]{number}.[/bold] {label}")
        stats = await watch_with_progress(runner, console, event=slug)
        print_summary(console, stats, title=f"crawl {number - 2}")
        results.append(stats)
    return results
