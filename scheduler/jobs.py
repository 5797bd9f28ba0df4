"""The daemon's work: every daemon checks pages; one, the leader, sends the digests.

Any number of daemons (and `watchdesk worker`s) run against one store, active-active. A
tick beats the daemon's heartbeat row, takes or renews the leader lease, and starts one
background job per host it can lease: hosts come through `storage.leases` (one owner per
host fleet-wide, so the per-host delay holds across daemons), pages are claimed under a
fencing token and their checks written only while the lease holds (`record_leased_checks`
in the record pipeline). A host job rechecks that host's batch of due pages (one watch
crawl) and then, when due, runs the outlet's discovery spider under its outlet lease
(`discovery:<host>`, so two daemons never both discover an outlet); a slow or failing host
only ever delays itself. The run-once work — digests and notifications, the Atom feeds —
is the leader's: the daemon holding the expiring `daemon-tick` lease row. What a job
learns goes back into the store (page schedules through `storage.checks`, breakers and
discovery times here), never only into memory.

Reads: WATCHDESK_TICK_SECONDS, WATCHDESK_DAEMON_LEASE_SECONDS, WATCHDESK_LEASE_SECONDS,
WATCHDESK_WORKER_HOSTS, CONCURRENT_REQUESTS, DOWNLOAD_DELAY, WATCHDESK_MAX_PER_HOST_PER_TICK,
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
from scheduler import names, state
from scheduler.breaker import BreakerRules, Phase, after_fetches, phase
from scheduler.digests import (
    atomic_write,
    digest_paths,
    digest_trigger,
    next_digest_at,
    record_digest,
    reports_dir,
    write_feed,
)
from scheduler.discovery_jobs import OutletDiscovery, discovery_interval
from storage import leases, overview, workers
from storage.reporting import build_report
from storage.repositories import release_pages, utcnow

logger = logging.getLogger(__name__)


#: How long after its end a digest period is read: longer than a check's record
#: transaction, which stamps a change before it commits it.
DIGEST_SETTLE = timedelta(seconds=5)


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon's settings, read once at start."""

    tick: float
    leader_ttl: timedelta
    """How long the leader lease holds without renewal (renewed every tick)."""
    lease_ttl: timedelta
    """Page, host and outlet leases, and the heartbeat: as for workers, so a mixed fleet
    judges a daemon's liveness as it judges a worker's."""
    handover: timedelta
    """A host handed back is free for the next owner after this (the politeness delay)."""
    hosts: int
    """Hosts this daemon works on at once."""
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
        tick = settings.getfloat("WATCHDESK_TICK_SECONDS")
        cron, timezone = (
            settings.get("WATCHDESK_DIGEST_CRON"),
            settings.get("WATCHDESK_DIGEST_TIMEZONE"),
        )
        digest_trigger(cron, timezone or "UTC")  # a bad line fails at start, not at 7 am
        return cls(
            tick=tick,
            # A lease shorter than a few ticks would expire between renewals.
            leader_ttl=timedelta(
                seconds=max(settings.getfloat("WATCHDESK_DAEMON_LEASE_SECONDS"), 3 * tick)
            ),
            lease_ttl=timedelta(seconds=settings.getfloat("WATCHDESK_LEASE_SECONDS")),
            handover=timedelta(seconds=settings.getfloat("DOWNLOAD_DELAY")),
            hosts=settings.getint("WATCHDESK_WORKER_HOSTS")
            or 4 * max(settings.getint("CONCURRENT_REQUESTS"), 1),
            per_host=max(settings.getint("WATCHDESK_MAX_PER_HOST_PER_TICK"), 1),
            breaker=BreakerRules(
                threshold=settings.getint("WATCHDESK_BREAKER_FAILURES"),
                cooldown=timedelta(minutes=settings.getfloat("WATCHDESK_BREAKER_COOLDOWN_MINUTES")),
            ),
            discovery=discovery_interval(settings),
            digest_cron=cron,
            digest_timezone=timezone or "UTC",
            reports=reports_dir(settings.get("WATCHDESK_REPORTS_DIR")),
            notify_urls=parse_urls(settings.get("WATCHDESK_NOTIFY_URLS")),
            feed_entries=settings.getint("WATCHDESK_FEED_ENTRIES"),
        )


def daemon_owner() -> str:
    """`host:pid:uuid`: the daemon's worker row and lease owner, readable in `watchdesk
    status`."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class HostJob:
    """One host's share of a tick."""

    host: str
    outlet: str
    pages: tuple[dict[str, Any], ...] = ()
    """The pages claimed for it (`ClaimedPage.spec()`: each with its fencing lease)."""
    discover_with: str | None = None
    """The discovery spider, when this daemon took the outlet's discovery lease."""


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
    claimed: dict[str, list[int]] = field(default_factory=dict)
    """host -> ids of the pages claimed for its running job: the page leases to renew."""
    leading: bool | None = None
    fed_through: int | None = None
    """The newest change the leader's Atom feeds include (None: not written yet)."""
    stopped: bool = False
    """Set on SIGTERM/SIGINT: a tick still running starts nothing more."""
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    discovery: OutletDiscovery = field(init=False)

    def __post_init__(self) -> None:
        self.discovery = OutletDiscovery(
            self.runner,
            self.sessions,
            self.owner,
            self.config.discovery,
            self.config.lease_ttl,
            self.profiles,
        )

    # --- the tick --------------------------------------------------------------------------------

    async def tick(self) -> bool:
        """Start jobs on the hosts this daemon can lease; as the leader, bring the feeds up
        to date and send the digests that are due. True when this daemon leads."""
        now = utcnow()
        if self.stopped:
            return False
        leading = self._keep_alive(now, lead=True)
        for job in self._plan(now):
            self.inflight[job.host] = asyncio.ensure_future(self._run_host(job))
        if leading:
            self._refresh_feeds()
            await self.send_digests(now)
        return leading

    def _keep_alive(self, now: datetime, lead: bool = False) -> bool:
        """Beat, reap the dead, renew what is in flight; with `lead`, take or renew the
        leader lease. Whether this daemon leads."""
        with self.sessions.begin() as session:
            # A holder that stopped beating (or died on this machine) is reaped and its
            # leases freed at once — the leader lease too — not after the lease time.
            workers.beat(session, self.owner, now)
            workers.reap(session, self.owner, now, self.config.lease_ttl, self.config.handover)
            pages = [i for ids in self.claimed.values() for i in ids]
            leases.renew(session, self.owner, pages, self.config.lease_ttl, now)
            state.renew_discoveries(session, self.owner, self.config.lease_ttl, now)
            if not lead:
                return bool(self.leading)
            held = state.take_lease(
                session, names.DAEMON_LEASE, self.owner, self.config.leader_ttl, now
            )
            holder = None if held else overview.get_lease(session, names.DAEMON_LEASE)
        if held != self.leading:  # log changes only, not every tick
            if held:
                logger.info("daemon %s leads: digests and feeds are its own", self.owner)
            elif holder is not None:
                logger.info(
                    "daemon %s checks pages; %s leads until %s",
                    self.owner,
                    holder.owner,
                    holder.until.isoformat(timespec="seconds"),
                )
        self.leading = held
        return held

    async def keep_alive_forever(self) -> None:
        """Between ticks too: beat and renew every third of the lease time (a tick may be
        longer than the lease), never raising."""
        while True:
            await asyncio.sleep(self.config.lease_ttl.total_seconds() / 3)
            try:
                self._keep_alive(utcnow())
            except Exception:  # a database hiccup must not stop the loop; leases may lapse
                logger.exception("daemon %s could not renew its leases", self.owner)

    def _plan(self, now: datetime) -> list[HostJob]:
        """Lease hosts with due work (pages, or an outlet's discovery), claim their pages."""
        ttl = self.config.lease_ttl
        with self.sessions.begin() as session:
            breakers = overview.load_breakers(session)
            blocked = {h for h, b in breakers.items() if phase(b, now) == Phase.OPEN}
            for host in blocked:
                state.push_back(session, host, breakers[host].until)
            probing = {h for h, b in breakers.items() if phase(b, now) == Phase.HALF_OPEN}
            room = self.config.hosts - len(self.inflight)
            hosts = leases.take_hosts(session, self.owner, room, ttl, now)
            for host in self.discovery.due(session, now, blocked | set(self.inflight)):
                free = len(hosts) < room and host not in hosts
                if free and leases.take_host(session, self.owner, host, ttl, now):
                    hosts.append(host)
            names = state.outlet_names(session)
            jobs = []
            for host in hosts:
                limit = 1 if host in probing else self.config.per_host  # a probe: one page
                pages = leases.claim_batch(
                    session, self.owner, limit, limit, ttl, now, hosts=[host]
                )
                spider = self.discovery.take(session, host, now)
                if not pages and spider is None:  # raced away meanwhile: nothing was sent
                    leases.release_host(session, self.owner, host, now, timedelta(0))
                    continue
                self.claimed[host] = [page.id for page in pages]
                specs = tuple(page.spec() for page in pages)
                jobs.append(HostJob(host, names.get(host, host), specs, spider))
        return jobs

    # --- one host --------------------------------------------------------------------------------

    async def _run_host(self, job: HostJob) -> None:
        """Recheck the host's due pages, then discover when due; never raises."""
        try:
            if job.pages:
                await self._recheck(job)
            if job.discover_with:
                await self._discover(job)
        except Exception:
            logger.exception("host job for %s failed", job.host)
        finally:
            self._hand_back(job)
            self.inflight.pop(job.host, None)

    def _hand_back(self, job: HostJob) -> None:
        """Give back the job's leases: pages never answered (a crawl cut by a stop, or one
        that never started), the outlet's discovery lease and the host — which the next
        owner may take only after the politeness delay."""
        pages = self.claimed.pop(job.host, [])
        try:
            with self.sessions.begin() as session:
                release_pages(session, self.owner, pages)
                if job.discover_with:
                    self.discovery.release(session, job.host)
                leases.release_host(session, self.owner, job.host, utcnow(), self.config.handover)
        except Exception:  # the leases then run out on their own
            logger.exception("could not hand %s back", job.host)

    def _crawl_owner(self, kind: str) -> str:
        """A name unique per crawl (`kind-N@host:pid:uuid`, see `daemon_owner`), for its
        run row; the page leases are the daemon's own."""
        return f"{kind}-{next(self._serial)}@{self.owner}"[:64]

    async def _recheck(self, job: HostJob) -> None:
        stats = await crawl_once(
            self.runner, "watch", claimed=list(job.pages), owner=self._crawl_owner("watch")
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
        if self.leading and any(key.startswith("watchdesk/change/") for key in stats):
            self.write_feeds()  # at once; another daemon's changes reach them next tick

    def _update_breaker(self, host: str) -> None:
        rules, now = self.config.breaker, utcnow()
        with self.sessions.begin() as session:
            before = overview.load_breakers(session).get(host)
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
        await self.discovery.run(job.host, spider, job.outlet, self._crawl_owner("discover"))

    async def drain(self) -> None:
        """Wait for every running host job (they end on their own, or when crawls stop)."""
        while self.inflight:
            await asyncio.wait(list(self.inflight.values()))

    # --- feeds and digests -----------------------------------------------------------------------

    def write_feeds(self) -> None:
        """Rewrite every event's Atom feed (the leader, after changes were stored)."""
        now = utcnow()
        with self.sessions() as session:
            newest = state.newest_change_id(session)
            for slug, _created in state.event_slugs(session):
                write_feed(session, self.config.reports, slug, self.config.feed_entries, now)
        self.fed_through = newest

    def _refresh_feeds(self) -> None:
        """The leader's tick: rewrite the feeds if any daemon stored a change since the
        last rewrite (a new leader rewrites them once at its first tick)."""
        with self.sessions() as session:
            newest = state.newest_change_id(session)
        if newest is not None and newest != self.fed_through:
            self.write_feeds()

    async def send_digests(self, now: datetime) -> None:
        """Send each event's digest whose cron time has come since its last one.

        A digest period ends DIGEST_SETTLE before now: a change is stamped when its check
        is recorded and committed a moment later, by whichever daemon checked the page, so
        a period read right at its end could miss one that the next period starts after.
        """
        trigger = digest_trigger(self.config.digest_cron, self.config.digest_timezone)
        until = now - DIGEST_SETTLE
        with self.sessions() as session:
            events = state.event_slugs(session)
            last = {
                slug: overview.last_digest(session, slug) or created for slug, created in events
            }
        for slug, since in last.items():
            due = next_digest_at(trigger, since)
            if due is not None and due <= until:
                await self._digest(slug, since, until)

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
        """A clean stop: give back every lease (the leader's too: another daemon leads from
        its next tick) and the worker row; hosts are free after the politeness delay."""
        with self.sessions.begin() as session:
            workers.retire(session, self.owner, utcnow(), self.config.handover)
