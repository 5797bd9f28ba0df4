"""The demo: the seed event's cited articles replayed locally in two states.

Steps: start a replay server on 127.0.0.1 (`crawler/demo/pages/state1`), add the seed card,
crawl; switch to state 2, crawl twice (the second check confirms the removal and sees the
503 recover); then look for follow-ups on the cited outlets as `watchdesk discover` does
(state 2 also holds the outlets' feeds, sitemaps and listings, and their new articles); print
what was found and write the reports. Nothing leaves this machine.
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

from crawler.cards.model import card_digest
from crawler.cards.parse import parse_card
from crawler.config import project_settings
from crawler.demo.replay import ReplayServer
from crawler.matching.terms import load_overrides
from crawler.reports.render import render
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
    # The demo's three crawls come seconds apart: confirm removals and suspect versions on
    # the next check, as a replay must.
    "WATCHDESK_CONFIRM_AFTER": 0,
}


@dataclass
class DemoRun:
    """What the demo did, for the command to print and tests to check."""

    db_url: str
    out_dir: Path
    stats: list[dict[str, Any]]
    seconds: float
    reports: dict[str, Path]
    discovery: list[dict[str, Any]]
    """Stats of each outlet's discovery crawl."""


def add_seed_card(db_url: str, *, terms: bool = True) -> str:
    """Store the seed card and (unless `terms` is False) its editor terms; returns the slug."""
    text = CARD.read_text(encoding="utf-8")
    card = parse_card(text, name=CARD.name)
    sessions = open_store(db_url)
    with sessions.begin() as session:
        upsert_event(session, card, card_digest(card), text)
        event = get_event(session, card.slug)
        assert event is not None
        if terms:
            event.match_overrides = load_overrides(TERMS.read_text(encoding="utf-8"))
    return card.slug


def demo_hosts() -> list[str]:
    """Every host folder of every state: discovery reads hosts no cited page is on (feedburner)."""
    states = [state for state in PAGES.iterdir() if state.is_dir()]
    return sorted({host.name for state in states for host in state.iterdir() if host.is_dir()})


def run_demo(
    console: Console, out_dir: Path, db_url: str | None = None, *, terms: bool = True
) -> DemoRun:
    """Run the whole demo and return what it did (`terms=False`: without the editor terms)."""
    started, began = time.monotonic(), utcnow() - timedelta(seconds=1)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{out_dir / 'demo.db'}"
    slug = add_seed_card(db_url, terms=terms)
    console.print(f"[bold]1.[/bold] added the seed card [cyan]{slug}[/cyan] to {db_url}")
    with ReplayServer(PAGES, state="state1") as server:
        settings = project_settings(
            {
                **DEMO_SETTINGS,
                "WATCHDESK_DB": db_url,
                "LOG_LEVEL": "WARNING",
                "WATCHDESK_HOST_MAP": json.dumps(server.host_map(demo_hosts())),
            }
        )
        console.print(f"[bold]2.[/bold] replay web on {server.base_url} (state 1)")

        async def steps(runner: AsyncCrawlerRunner) -> tuple[list[dict[str, Any]], ...]:
            crawls = await _crawls(runner, server, console, slug)
            return crawls, await _discover(runner, console, db_url, slug)

        stats, discovery = run_crawls(settings, steps)
    reports = write_reports(db_url, slug, out_dir, since=began)
    return DemoRun(db_url, out_dir, stats, time.monotonic() - started, reports, discovery)


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


async def _discover(
    runner: AsyncCrawlerRunner, console: Console, db_url: str, slug: str
) -> list[dict[str, Any]]:
    """Step 6: the outlet spiders on the cited outlets, planned and run as `watchdesk discover`."""
    from crawler.cli.discover import discover_outlets, plan_targets

    with open_store(db_url).begin() as session:
        targets = plan_targets(session, runner.settings, slug, None)
    label = f"look for follow-ups on the {len(targets)} outlets the card cites"
    console.print(f"[bold]6.[/bold] {label}")
    results = await discover_outlets(runner, targets)
    console.print(discovery_summary(results), markup=False, soft_wrap=True)
    return results


def discovery_summary(results: list[dict[str, Any]]) -> str:
    """One line over all outlets: links read, articles fetched, what came of them."""
    from crawler.cli.discover import ERROR_KINDS

    def total(*keys: str) -> int:
        return sum(int(stats.get(key, 0)) for stats in results for key in keys)

    broken = total(*(f"watchdesk/discovery/{kind}_error" for kind in ERROR_KINDS))
    return (
        f"discovery: {total('watchdesk/discovery/links')} links on {len(results)} outlets, "
        f"{total('watchdesk/discovery/new')} new articles fetched, "
        f"{total('watchdesk/followup/found')} follow-up articles, "
        f"{total('watchdesk/followup/off_topic')} off-topic, {broken} broken endpoint(s)"
    )
