"""Outlet discovery when it is due, under outlet leases: shared by daemons and workers.

Whoever runs it — a daemon's host job or a `watchdesk worker`'s discovery loop — takes the
outlet's `discovery:<host>` lease first (`state.take_discovery`, which also moves the
outlet's next discovery on), so across the whole fleet each due outlet is discovered by one
process; the lease is renewed while the run lasts and released after it. The outlet's next
time is in the store, so a process that dies mid-run leaves the next run to the schedule.

Reads: WATCHDESK_DISCOVERY_MINUTES (0: no discovery), WATCHDESK_LEASE_SECONDS,
WATCHDESK_WORKER_POLL_SECONDS (the worker's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import BaseSettings
from sqlalchemy.orm import Session, sessionmaker

from crawler.interrupt import refuses_crawls
from crawler.running import crawl_once
from scheduler import state
from scheduler.breaker import Phase, phase
from scheduler.names import DISCOVERY_PREFIX
from storage import overview
from storage.repositories import utcnow

logger = logging.getLogger(__name__)


def discovery_interval(settings: BaseSettings) -> timedelta | None:
    """WATCHDESK_DISCOVERY_MINUTES as a time; None when it is 0 (discovery is off)."""
    minutes = settings.getfloat("WATCHDESK_DISCOVERY_MINUTES")
    return timedelta(minutes=minutes) if minutes > 0 else None


@dataclass
class OutletDiscovery:
    """Which outlets are due, taking their leases, running their discovery spiders."""

    runner: AsyncCrawlerRunner
    sessions: sessionmaker[Session]
    owner: str
    """The owner of the outlet leases taken."""
    interval: timedelta | None
    """WATCHDESK_DISCOVERY_MINUTES (None: no discovery at all)."""
    ttl: timedelta
    profiles: dict[str, str]
    """host -> discovery spider; `*` -> the generic spider (absent: no discovery)."""

    def spider_for(self, host: str) -> str | None:
        """The outlet's own discovery spider, else the generic one."""
        return self.profiles.get(host) or self.profiles.get("*")

    def due(self, session: Session, now: datetime, skip: Collection[str] = ()) -> list[str]:
        """Hosts whose outlets' discovery is due and that have a spider (but none of `skip`:
        an open breaker, a job of this process on it already)."""
        if self.interval is None or not self.profiles:
            return []
        return [
            host
            for host, _name in state.due_outlets(session, now)
            if self.spider_for(host) and host not in skip
        ]

    def take(self, session: Session, host: str, now: datetime) -> str | None:
        """The discovery spider to run on `host`, if its discovery is due and `owner` took
        the outlet lease (its next time is set now, so a crash mid-run does not make every
        process start it again)."""
        spider = self.spider_for(host)
        if self.interval is None or spider is None:
            return None
        taken = state.take_discovery(session, host, self.owner, self.interval, self.ttl, now)
        return spider if taken else None

    def release(self, session: Session, host: str) -> None:
        """Give the outlet lease of `host` back (its run is over)."""
        state.release_lease(session, DISCOVERY_PREFIX + host, self.owner)

    async def run(self, host: str, spider: str, outlet: str, crawl_owner: str) -> dict[str, Any]:
        """One discovery crawl of `host`, then its next time (with the failures' backoff,
        which the crawl has just updated); the crawl's stats."""
        stats = await crawl_once(self.runner, spider, outlet=host, owner=crawl_owner)
        with self.sessions.begin() as session:
            state.schedule_discovery(session, host, self.interval or timedelta(), utcnow())
        logger.info(
            "discover %s (%s, %s): %d link(s), %d new, %d follow-up(s)",
            outlet,
            host,
            spider,
            stats.get("watchdesk/discovery/links", 0),
            stats.get("watchdesk/discovery/new", 0),
            stats.get("watchdesk/followup/found", 0),
        )
        return stats

    # --- a worker's loop -------------------------------------------------------------------------

    async def run_due(self, once: bool, poll: float, stop: asyncio.Event) -> None:
        """Discover due outlets one at a time until `stop` (`once`: until none is left that
        this process could take); never raises."""
        renewer = asyncio.ensure_future(self._renew_forever())
        try:
            serial = 0
            while not stop.is_set() and not refuses_crawls(self.runner):
                taken = self._take_next()
                if taken is None:
                    if once:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=poll)
                    continue
                host, spider, outlet = taken
                serial += 1
                try:
                    await self.run(host, spider, outlet, f"discover-{serial}@{self.owner}"[:64])
                except Exception:
                    logger.exception("discovery of %s failed", host)
                finally:
                    self._release(host)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    def _take_next(self) -> tuple[str, str, str] | None:
        """(host, spider, outlet name) of the first due outlet whose lease this took."""
        try:
            with self.sessions.begin() as session:
                now = utcnow()
                breakers = overview.load_breakers(session)
                blocked = {h for h, b in breakers.items() if phase(b, now) == Phase.OPEN}
                names = state.outlet_names(session)
                for host in self.due(session, now, skip=blocked):
                    spider = self.take(session, host, now)
                    if spider is not None:
                        return host, spider, names.get(host, host)
        except Exception:  # a database hiccup: try again at the next poll
            logger.exception("%s could not look for due discovery", self.owner)
        return None

    def _release(self, host: str) -> None:
        try:
            with self.sessions.begin() as session:
                self.release(session, host)
        except Exception:  # the lease then runs out on its own
            logger.exception("could not release the discovery lease of %s", host)

    async def _renew_forever(self) -> None:
        """Keep the outlet leases of runs in flight: every third of the lease time."""
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                with self.sessions.begin() as session:
                    state.renew_discoveries(session, self.owner, self.ttl, utcnow())
            except Exception:  # a hiccup must not stop the loop; the lease may lapse
                logger.exception("%s could not renew its discovery leases", self.owner)
