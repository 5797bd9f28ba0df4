"""The daemon's work: a tick starts what is due; per-host jobs crawl; digests go out.

A tick is quick: it takes (or renews) the `daemon-tick` lease, plans from the store and
starts one background job per host with due work, then sends the digests that are due. A host
job rechecks that host's batch of due pages (one watch crawl) and then, when due, runs the
outlet's discovery spider; a host never has two jobs at once, and a slow or failing host
only ever delays itself. What a job learns goes back into the store (page schedules through
`storage.checks`, breakers and discovery times here), never only into memory.

Reads: WATCHDESK_TICK_SECONDS, WATCHDESK_DAEMON_LEASE_SECONDS, WATCHDESK_MAX_PER_HOST_PER_TICK,
WATCHDESK_BREAKER_FAILURES, WATCHDESK_BREAKER_COOLDOWN_MINUTES, WATCHDESK_DISCOVERY_MINUTES,
WATCHDESK_DIGEST_CRON, WATCHDESK_DIGEST_TIMEZONE, WATCHDESK_REPORTS_DIR, WATCHDESK_NOTIFY_URLS,
WATCHDESK_FEED_ENTRIES.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import BaseSettings
from sqlalchemy.orm import Session, sessionmaker

from crawler.reports.notify import notify, parse_urls
from crawler.reports.render import render
from crawler.running import crawl_once
from scheduler import state
from scheduler.breaker import BreakerRules, Phase, after_fetches, phase
from scheduler.cadence import cap_per_host
from scheduler.digests import (
    atomic_write,
    digest_paths,
    digest_trigger,
    last_digest,
    next_digest_at,
    record_digest,
    reports_dir,
    write_feed,
)
from storage import workers
from storage.reporting import build_report
from storage.repositories import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon's settings, read once at start."""

    tick: float
    lease_ttl: timedelta
    per_host: int
    breaker: BreakerRules
    discovery: timedelta | None
    digest_cron: str
    digest_timezone: str
    reports: Path
    notify_urls: list[str]
    feed_entries: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> DaemonConfig:
        """Read every WATCHDESK_* value the daemon needs (see the module docstring)."""
        minutes = settings.getfloat("WATCHDESK_DISCOVERY_MINUTES")
        tick = settings.getfloat("WATCHDESK_TICK_SECONDS")
        cron, timezone = (
            settings.get("WATCHDESK_DIGEST_CRON"),
            settings.get("WATCHDESK_DIGEST_TIMEZONE"),
        )
        digest_trigger(cron, timezone or "UTC")  # a bad line fails at start, not at 7 am
        return cls(
            tick=tick,
            # A lease shorter than a few ticks would expire between renewals.
            lease_ttl=timedelta(
                seconds=max(settings.getfloat("WATCHDESK_DAEMON_LEASE_SECONDS"), 3 * tick)
            ),
            per_host=max(settings.getint("WATCHDESK_MAX_PER_HOST_PER_TICK"), 1),
            breaker=BreakerRules(
                threshold=settings.getint("WATCHDESK_BREAKER_FAILURES"),
                cooldown=timedelta(minutes=settings.getfloat("WATCHDESK_BREAKER_COOLDOWN_MINUTES")),
            ),
            discovery=timedelta(minutes=minutes) if minutes > 0 else None,
            digest_cron=cron,
            digest_timezone=timezone or "UTC",
            reports=reports_dir(settings.get("WATCHDESK_REPORTS_DIR")),
            notify_urls=parse_urls(settings.get("WATCHDESK_NOTIFY_URLS")),
            feed_entries=settings.getint("WATCHDESK_FEED_ENTRIES"),
        )


def daemon_owner() -> str:
    """`host:pid:uuid`: who holds the tick lease, readable in `watchdesk status`."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class HostJob:
    """One host's share of a tick."""

    host: str
    outlet: str
    urls: tuple[str, ...] = ()
    discover_with: str | None = None


@dataclass
class Worker:
    """Everything one daemon process does, tick by tick."""

    runner: AsyncCrawlerRunner
    sessions: sessionmaker[Session]
    config: DaemonConfig
    profiles: dict[str, str]
    """host -> discovery spider; `*` -> the generic spider (absent: no discovery)."""
    owner: str = field(default_factory=daemon_owner)
    inflight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    holding: bool | None = None
    stopped: bool = False
    """Set on SIGTERM/SIGINT: a tick still running starts nothing more."""
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- the tick --------------------------------------------------------------------------------

    async def tick(self) -> bool:
        """Start what is due, if this daemon holds the tick lease; True when it did."""
        now = utcnow()
        if self.stopped or not self._hold_lease(now):
            return False
        for job in self._plan(now):
            task = asyncio.ensure_future(self._run_host(job))
            self.inflight[job.host] = task
        await self.send_digests(now)
        return True

    def _hold_lease(self, now: datetime) -> bool:
        with self.sessions.begin() as session:
            # A heartbeat row per daemon: a holder that stopped beating (or died on this
            # machine) is reaped and its tick lease freed at once, not after the lease time.
            workers.beat(session, self.owner, now)
            workers.reap(session, self.owner, now, self.config.lease_ttl, timedelta(0))
            held = state.take_lease(
                session, state.DAEMON_LEASE, self.owner, self.config.lease_ttl, now
            )
            holder = None if held else state.get_lease(session, state.DAEMON_LEASE)
        if held != self.holding:  # log changes only, not every tick
            if held:
                logger.info("daemon %s holds the tick lease", self.owner)
            elif holder is not None:
                logger.info(
                    "daemon %s waits: %s holds the tick lease until %s",
                    self.owner,
                    holder.owner,
                    holder.until.isoformat(timespec="seconds"),
                )
        self.holding = held
        return held

    def _plan(self, now: datetime) -> list[HostJob]:
        """The host jobs of this tick (hosts with a job still running are left for later)."""
        with self.sessions.begin() as session:
            breakers = state.load_breakers(session)
            due = [p for p in state.due_pages(session, now) if p.host not in self.inflight]
            blocked = {h for h, b in breakers.items() if phase(b, now) == Phase.OPEN}
            for host in blocked:
                ids = [p.id for p in due if p.host == host]
                state.push_back(session, ids, breakers[host].until)
            probing = {h for h, b in breakers.items() if phase(b, now) == Phase.HALF_OPEN}
            urls = {p.id: p.url for p in due}
            open_hosts = ((p.host, p.id) for p in due if p.host not in blocked)
            batches = cap_per_host(open_hosts, self.config.per_host)
            names = state.outlet_names(session)
            discover = self._due_discovery(session, now, blocked)
        jobs = []
        for host in sorted(set(batches) | set(discover)):
            ids = batches.get(host, [])[: 1 if host in probing else None]  # a probe: one page
            chosen = tuple(urls[i] for i in ids)
            jobs.append(HostJob(host, names.get(host, host), chosen, discover.get(host)))
        return jobs

    def _due_discovery(self, session: Session, now: datetime, blocked: set[str]) -> dict[str, str]:
        """host -> spider of outlets whose discovery is due; their next time is set now, so
        a crash mid-run does not make every tick start it again."""
        if self.config.discovery is None or not self.profiles:
            return {}
        chosen = {}
        for host, _name in state.due_outlets(session, now):
            spider = self.profiles.get(host) or self.profiles.get("*")
            if spider and host not in blocked and host not in self.inflight:
                chosen[host] = spider
                state.schedule_discovery(session, host, self.config.discovery, now)
        return chosen

    # --- one host --------------------------------------------------------------------------------

    async def _run_host(self, job: HostJob) -> None:
        """Recheck the host's due pages, then discover when due; never raises."""
        try:
            if job.urls:
                await self._recheck(job)
            if job.discover_with:
                await self._discover(job)
        except Exception:
            logger.exception("host job for %s failed", job.host)
        finally:
            self.inflight.pop(job.host, None)

    def _crawl_owner(self, kind: str) -> str:
        """A lease owner unique per crawl (`kind-N@host:pid:uuid`, see `daemon_owner`)."""
        return f"{kind}-{next(self._serial)}@{self.owner}"[:64]

    async def _recheck(self, job: HostJob) -> None:
        stats = await crawl_once(
            self.runner, "watch", urls=list(job.urls), due=True, owner=self._crawl_owner("watch")
        )
        logger.info(
            "recheck %s (%s): %d checked, %d new version(s), %d significant, %d error(s)",
            job.outlet,
            job.host,
            stats.get("item_scraped_count", 0),
            stats.get("watchdesk/version/new", 0),
            stats.get("watchdesk/change/significant", 0),
            stats.get("watchdesk/outcome/transient", 0),
        )
        self._update_breaker(job.host)
        if any(key.startswith("watchdesk/change/") for key in stats):
            self.write_feeds()

    def _update_breaker(self, host: str) -> None:
        rules, now = self.config.breaker, utcnow()
        with self.sessions.begin() as session:
            before = state.load_breakers(session).get(host)
            recent = state.recent_failures(session, host, rules.threshold)
            after = after_fetches(before, recent, now, rules)
            state.save_breaker(session, host, after)
        if after != before:
            if after is None:
                logger.info("breaker of %s closed: the outlet answers again", host)
            else:
                logger.warning(
                    "breaker of %s open until %s (trip %d): its pages wait, others go on",
                    host,
                    after.until.isoformat(timespec="seconds"),
                    after.trips,
                )

    async def _discover(self, job: HostJob) -> None:
        spider = job.discover_with or "generic"
        stats = await crawl_once(
            self.runner, spider, outlet=job.host, owner=self._crawl_owner("discover")
        )
        with self.sessions.begin() as session:
            state.schedule_discovery(
                session, job.host, self.config.discovery or timedelta(), utcnow()
            )
        logger.info(
            "discover %s (%s, %s): %d link(s), %d new, %d follow-up(s)",
            job.outlet,
            job.host,
            spider,
            stats.get("watchdesk/discovery/links", 0),
            stats.get("watchdesk/discovery/new", 0),
            stats.get("watchdesk/followup/found", 0),
        )

    async def drain(self) -> None:
        """Wait for every running host job (they end on their own, or when crawls stop)."""
        while self.inflight:
            await asyncio.wait(list(self.inflight.values()))

    # --- feeds and digests -----------------------------------------------------------------------

    def write_feeds(self) -> None:
        """Rewrite every event's Atom feed (after a job that stored changes)."""
        now = utcnow()
        with self.sessions() as session:
            for slug, _created in state.event_slugs(session):
                write_feed(session, self.config.reports, slug, self.config.feed_entries, now)

    async def send_digests(self, now: datetime) -> None:
        """Send each event's digest whose cron time has come since its last one."""
        trigger = digest_trigger(self.config.digest_cron, self.config.digest_timezone)
        with self.sessions() as session:
            events = state.event_slugs(session)
            last = {slug: last_digest(session, slug) or created for slug, created in events}
        for slug, since in last.items():
            due = next_digest_at(trigger, since)
            if due is not None and due <= now:
                await self._digest(slug, since, now)

    async def _digest(self, slug: str, since: datetime, now: datetime) -> None:
        with self.sessions() as session:
            report = build_report(session, slug, since, now)
        stats: dict[str, Any] = {"significant": report.significant_count, "files": []}
        if report.significant_count:
            markdown = render(report, "md")
            md_path, html_path = digest_paths(self.config.reports, slug, now)
            atomic_write(md_path, markdown)
            atomic_write(html_path, render(report, "html"))
            stats["files"] = [str(md_path), str(html_path)]
            title = f"watchdesk: {report.title} — {report.significant_count} significant"
            stats["notified"] = await asyncio.to_thread(
                notify, self.config.notify_urls, title, markdown
            )
        with self.sessions.begin() as session:
            record_digest(session, slug, since, now, stats)
        logger.info(
            "digest %s: %d significant since %s, %s",
            slug,
            report.significant_count,
            since.isoformat(timespec="seconds"),
            ", ".join(stats["files"]) or "nothing to send",
        )

    def release(self) -> None:
        """Give back the tick lease (a clean stop: another daemon may take over at once)."""
        with self.sessions.begin() as session:
            state.release_lease(session, state.DAEMON_LEASE, self.owner)
            workers.retire(session, self.owner, utcnow(), timedelta(0))
