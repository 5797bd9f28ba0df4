"""The worker spider: a long-running check loop over due pages, any number per store.

`watchdesk worker` (or `scrapy crawl worker -a once=1`). Its `async def start()` keeps
claiming due work in batches as it goes (Scrapy's lazy start: the engine asks for the next
request only when its downloader has room), so a worker never holds more than one batch
beyond what it is fetching. Every claim and hand-over is a row in the store
(`storage.leases`, `storage.workers`): hosts are leased one owner at a time, pages under a
fencing token, and a heartbeat task renews the leases while the work is in flight. Nothing a
second worker would need lives in this process.

Reads: WATCHDESK_DB, WATCHDESK_LEASE_SECONDS, WATCHDESK_WORKER_BATCH, WATCHDESK_WORKER_HOSTS,
WATCHDESK_WORKER_POLL_SECONDS, CONCURRENT_REQUESTS, DOWNLOAD_DELAY (discovery beside it:
`scheduler.discovery_jobs`, started by `crawler.cli.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from sqlalchemy.orm import Session, sessionmaker
from twisted.python.failure import Failure

from crawler.items import FetchedPage
from spiders.checking import check_request, item_from_failure, item_from_response
from storage import leases, workers
from storage.db import open_store
from storage.repositories import utcnow

logger = logging.getLogger(__name__)

#: Pages of one host in one batch at most: more would wait in Scrapy's slot for the host's
#: delay while counting against CONCURRENT_REQUESTS, starving the other hosts.
PER_HOST_PER_BATCH = 2


class WorkerSpider(scrapy.Spider):
    """Check due pages in batches until stopped (`once`: until nothing is due)."""

    name = "worker"

    def __init__(
        self,
        once: str | bool = False,
        batch: str | int | None = None,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.once = once not in (False, "", "0", "false", None)
        self.batch_arg = int(batch) if batch else None
        self.owner = worker or workers.worker_name()
        self.queue: deque[leases.ClaimedPage] = deque()
        self.outstanding: set[int] = set()
        """Pages claimed by this worker and not yet recorded: the leases to renew."""
        self.renewer: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.sessions = open_store(settings.get("WATCHDESK_DB") or None)
        spider.ttl = timedelta(seconds=settings.getfloat("WATCHDESK_LEASE_SECONDS"))
        spider.batch = spider.batch_arg or settings.getint("WATCHDESK_WORKER_BATCH")
        hosts = settings.getint("WATCHDESK_WORKER_HOSTS")
        spider.max_hosts = hosts or 4 * max(settings.getint("CONCURRENT_REQUESTS"), 1)
        spider.poll = settings.getfloat("WATCHDESK_WORKER_POLL_SECONDS")
        spider.handover = timedelta(seconds=settings.getfloat("DOWNLOAD_DELAY"))
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider._done, signal=signal)
        return spider

    sessions: sessionmaker[Session]
    ttl: timedelta
    batch: int
    max_hosts: int
    poll: float
    handover: timedelta

    # --- the loop --------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Claim a batch, request it page by page as the downloader has room, claim again."""
        with self.sessions.begin() as session:
            now = utcnow()
            workers.reap(session, self.owner, now, self.ttl, self.handover)
            workers.beat(session, self.owner, now)
        logger.info(
            "worker %s started (batch %d, up to %d hosts)", self.owner, self.batch, self.max_hosts
        )
        self.renewer = asyncio.ensure_future(self._renew_forever())
        while True:
            if not self.queue:
                claimed = self._claim()
                if not claimed:
                    if self.once and self._nothing_due():
                        return
                    await asyncio.sleep(self.poll)
                    continue
                self.queue.extend(claimed)
            page = self.queue.popleft()
            discovered = page.origin == "discovered"  # a new version of it is scored again
            yield check_request(page.spec(), self.parse, self.failed, discovered=discovered)

    def _claim(self) -> list[leases.ClaimedPage]:
        """Hand back drained hosts, lease more, claim the next batch from the hosts held."""
        now = utcnow()
        with self.sessions.begin() as session:
            leases.release_drained_hosts(session, self.owner, now, self.handover)
            held = leases.held_hosts(session, self.owner, now)
            leases.take_hosts(session, self.owner, self.max_hosts - len(held), self.ttl, now)
        with self.sessions.begin() as session:
            claimed = leases.claim_batch(
                session, self.owner, self.batch, PER_HOST_PER_BATCH, self.ttl, now
            )
        self.outstanding.update(page.id for page in claimed)
        stats = self.crawler.stats
        assert stats is not None
        if claimed:
            stats.inc_value("watchdesk/worker/batches")
            stats.inc_value("watchdesk/pages/claimed", len(claimed))
        return claimed

    def _nothing_due(self) -> bool:
        if self.outstanding:
            return False
        with self.sessions() as session:
            return leases.due_count(session, utcnow()) == 0

    def _done(self, item: Any, **_: Any) -> None:
        """An item left the pipelines (recorded, fenced out or failed): its lease is done."""
        if isinstance(item, FetchedPage):
            self.outstanding.discard(item.page_id)

    async def _renew_forever(self) -> None:
        """Heartbeat, reap the dead, renew the leases in flight: every third of the TTL."""
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                with self.sessions.begin() as session:
                    now = utcnow()
                    workers.beat(session, self.owner, now)
                    workers.reap(session, self.owner, now, self.ttl, self.handover)
                    leases.renew(session, self.owner, self.outstanding, self.ttl, now)
            except Exception:  # a database hiccup must not kill the loop; leases may lapse
                logger.exception("worker %s could not renew its leases", self.owner)

    # --- callbacks -------------------------------------------------------------------------------

    def parse(self, response: Response) -> FetchedPage:
        """Turn any response the spider sees into a FetchedPage item."""
        return item_from_response(response)

    def failed(self, failure: Failure) -> FetchedPage:
        """A request that produced no response after retries: a transient failure."""
        return item_from_failure(failure)

    async def closed(self, reason: str) -> None:
        """Stop renewing; give back every page not answered and every host; leave."""
        if self.renewer is not None:
            self.renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.renewer
        with self.sessions.begin() as session:
            workers.retire(session, self.owner, utcnow(), self.handover)
        logger.info("worker %s stopped (%s)", self.owner, reason)
