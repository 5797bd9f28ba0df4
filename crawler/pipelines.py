"""Item pipelines: extraction in worker processes, then batched transactions of checks.

Changes of cited articles and discovered articles are matched in one more process (a
`MatcherProcess`, spawned at the first page that needs it), never in this one. The
extraction pool and the matcher are the OS process's, shared by every crawl running in it
(`crawler.shared_pools`).

Reads: WATCHDESK_DB, WATCHDESK_REMOVAL_CONFIRMATIONS, WATCHDESK_CONFIRM_AFTER,
WATCHDESK_UNCONDITIONAL_AFTER, WATCHDESK_EXTRACT_WORKERS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Self
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.exceptions import DropItem

from crawler.extract.pool import ExtractionFailed
from crawler.items import FetchedPage
from crawler.shared_pools import count_replaced, extraction_pool, matcher_process
from storage.checks import CheckResult, CheckRules
from storage.db import open_store
from storage.leases import record_leased_checks
from storage.linking import MATCHER
from storage.repositories import release_pages, utcnow

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session, sessionmaker

    from crawler.matching.process import MatcherProcess

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Turn a new 200 body into an ArticleText, in a worker process.

    Skipped when the bytes equal the stored ones (no extraction for an unchanged page) and
    for non-200 or non-HTML answers. Extraction is CPU-bound and holds the GIL, so it runs
    in `ExtractionPool` (one process per core, shared by the crawls of this process:
    `crawler.shared_pools`), never on the reactor. The pool is spawned when the crawl
    schedules a page that has no stored body yet (a first check surely extracts: the
    workers warm while the first responses arrive), or at the first body that needs it: an
    all-304 recheck never spawns one. A recheck's changed body also warms the matcher
    process (`MatcherProcess.warm`). A page whose worker died twice is dropped and its lease
    given back, so the next run checks it again.

    Reads: WATCHDESK_EXTRACT_WORKERS.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pool = extraction_pool(crawler)
        self.matcher = matcher_process(crawler)
        crawler.signals.connect(self._scheduled, signal=signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _scheduled(self, request: Request) -> None:
        """Warm the pool as soon as a page without a stored body is on its way."""
        meta = request.meta
        first_check = "watchdesk_page_id" in meta and not meta.get("watchdesk_body_hash")
        if first_check and not self.pool.started:
            self.pool.start()

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        if item.status != 200 or item.body is None or item.same_body:
            return item
        url = item.final_url or item.url
        if item.changed_body:
            self.matcher.warm()  # its edit will likely be linked: load the encoder meanwhile
        try:
            # The content type's charset decodes the body.
            result = await self.pool.extract(item.body, item.status, url, item.content_type)
        except ExtractionFailed as error:
            await self._release(item)
            raise DropItem(str(error)) from error
        item.challenge, item.article = result.challenge, result.article
        item.fingerprint, item.text_hash = result.fingerprint, result.text_hash
        item.stored_body = result.compressed_body
        return item

    async def _release(self, item: FetchedPage) -> None:
        """Give back the lease of a page that could not be extracted (checked next run)."""
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("watchdesk/extract/failed")
        owner = getattr(self.crawler.spider, "owner", None)
        if owner is None:
            return
        sessions = open_store(self.crawler.settings.get("WATCHDESK_DB") or None)

        def release() -> None:
            with sessions.begin() as session:
                release_pages(session, owner, [item.page_id])

        await asyncio.get_running_loop().run_in_executor(store_writer(self.crawler), release)

    def close_spider(self) -> None:
        """Count the workers replaced during this crawl (the pool itself is given back when
        the crawl closes: `crawler.shared_pools`)."""
        count_replaced(self.crawler, self.pool, "watchdesk/extract/pool_replaced")


#: Stats keys to count and a note worth logging, for one recorded check.
Recorded = tuple[list[str], str | None]


class RecordPipeline:
    """Record each check: the fetch, a version, a change, or nothing.

    Checks are written in batches: a check waits at most BATCH_SECONDS for others to join
    its transaction (or BATCH_SIZE of them are queued). Measured: a transaction per check
    cost ~1.4 ms of crawl time per page, a batch of 304s ~0.1 ms. A batch with an extracted
    article (diff, classification, linking: up to tens of ms) runs in the store's writer
    thread so the reactor goes on fetching; a light batch runs at once on the reactor. One
    batch at a time, either way: one writer suits SQLite. A batch that fails is
    retried one check per transaction, so one bad page never costs the others.

    A recheck's item goes on as soon as it is queued; only a discovered article waits for its
    version (FollowupPipeline scores it). Why: Scrapy stops downloading while the responses
    it has handed on weigh more than SCRAPER_SLOT_MAX_ACTIVE_SIZE (5 MB), and a writer busy
    with the matcher's start-up (seconds) held ~25 edited bodies that way: measured on the
    side-by-side edited pass, two stalls of ~2 s with nothing fetched. The queue keeps its
    own bound instead (PENDING_BYTES), and closing the spider waits until it is written, so
    leases are given back only after. A kill loses what was not yet written, which was
    never acknowledged: those pages keep their leases and are checked again.
    """

    BATCH_SECONDS = 0.1
    BATCH_SIZE = 200
    #: Body bytes of queued checks beyond which a new one waits (a 304 counts 1 KiB, as in
    #: Scrapy's own accounting of responses).
    PENDING_BYTES = 16 * 1024 * 1024

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.sessions = open_store(settings.get("WATCHDESK_DB") or None)
        self.rules = CheckRules(
            confirmations=settings.getint("WATCHDESK_REMOVAL_CONFIRMATIONS", 2),
            confirm_after=settings.getfloat("WATCHDESK_CONFIRM_AFTER", 3600.0),
            unconditional_after=settings.getfloat("WATCHDESK_UNCONDITIONAL_AFTER", 86400.0),
        )
        self.writer = store_writer(crawler)
        self.matcher = matcher_process(crawler)
        self.queue: list[tuple[FetchedPage, asyncio.Future[Recorded]]] = []
        self.writing = False
        self.timer: asyncio.TimerHandle | None = None
        #: Checks handed on before they were written, and the body bytes they hold; `room`
        #: is set while those bytes are within PENDING_BYTES.
        self.pending: dict[asyncio.Future[Recorded], int] = {}
        self.pending_bytes = 0
        self.room = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if len(self.queue) >= self.BATCH_SIZE:
            self._write_next()
        elif self.timer is None:
            self._start_timer()
        if item.discovered:  # FollowupPipeline scores the version this stores: wait for it
            try:
                recorded = await future
            except RecordError:
                self._count_failure()
                raise
            self._count(item, recorded)
            return item
        weight = max(len(item.body or b""), 1024)
        self.pending[future] = weight
        self.pending_bytes += weight
        future.add_done_callback(lambda done: self._settled(item, done))
        while self.pending_bytes > self.PENDING_BYTES:  # one wake-up per write, not per check
            self.room.clear()
            await self.room.wait()
        return item

    def _settled(self, item: FetchedPage, done: asyncio.Future[Recorded]) -> None:
        """Count a check written after its item went on (its failure was logged already)."""
        self.pending_bytes -= self.pending.pop(done)
        if self.pending_bytes <= self.PENDING_BYTES:
            self.room.set()
        if done.exception() is not None:
            self._count_failure()
        else:
            self._count(item, done.result())

    def _count(self, item: FetchedPage, recorded: Recorded) -> None:
        stats = self.crawler.stats
        assert stats is not None
        keys, note = recorded
        for key in keys:
            stats.inc_value(key)
        if note:
            logger.info("%s: %s", item.url, note)

    def _count_failure(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("watchdesk/record/failed")  # `watchdesk crawl` then exits 1

    def _write_next(self) -> None:
        """Hand everything queued to the writer thread, unless it is busy."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.writing or not self.queue:
            return
        batch, self.queue = self.queue, []
        items = [item for item, _ in batch]
        loop = asyncio.get_running_loop()
        if any(item.article is not None for item in items):
            # Something to diff, classify and link: off the reactor.
            self.writing = True
            done = loop.run_in_executor(self.writer, self._record_batch, items)
        else:
            # 304s, failures, unchanged bytes: ~0.1 ms a check in a batch, cheaper here than
            # the GIL hand-offs of a thread (measured: 2.6 s vs 3.4 s for 1000 pages).
            done = loop.create_future()
            done.set_result(self._record_batch(items))
        done.add_done_callback(lambda outcome: self._written(batch, outcome))

    def _written(
        self,
        batch: list[tuple[FetchedPage, asyncio.Future[Recorded]]],
        outcome: asyncio.Future[list[Recorded | BaseException]],
    ) -> None:
        self.writing = False
        results = outcome.result()
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        # What queued up meanwhile is written now only if its timer fired while the writer
        # was busy (no timer left) or the batch is full; else it waits for that timer.
        # Writing at once made batches of ~6 checks on a 304 recheck, whose light batches
        # finish within a loop pass: 0.44 ms a check against 0.17 ms in batches of 30.
        if self.timer is None or len(self.queue) >= self.BATCH_SIZE:
            self._write_next()

    def _start_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.BATCH_SECONDS, self._write_next)

    def _record_batch(self, items: list[FetchedPage]) -> list[Recorded | BaseException]:
        try:
            with begin(self.sessions, self.matcher) as session, session.no_autoflush:
                # Rows are written in one flush at commit (record_check flushes itself where
                # it needs ids); quiet 304s in two bulk statements.
                results = record_leased_checks(session, items, now=utcnow(), rules=self.rules)
                return [self._keys(result) for result in results]
        except Exception:
            if len(items) == 1:
                logger.exception("could not record the check of %s", items[0].url)
                return [RecordError(items[0].url)]
        return [self._record_alone(item) for item in items]

    def _record_alone(self, item: FetchedPage) -> Recorded | BaseException:
        try:
            with begin(self.sessions, self.matcher) as session:
                (result,) = record_leased_checks(session, [item], now=utcnow(), rules=self.rules)
                return self._keys(result)
        except Exception:
            logger.exception("could not record the check of %s", item.url)
            return RecordError(item.url)

    @staticmethod
    def _keys(result: CheckResult | None) -> Recorded:
        """The stats keys to count for one recorded check, and a note worth logging."""
        if result is None:  # fenced out: the page's lease was taken over (issue 12)
            return ["watchdesk/lease/lost"], "not recorded: its lease was taken over"
        keys = [f"watchdesk/outcome/{result.outcome.value}"]
        if result.version is not None:
            keys.append("watchdesk/version/new")
        if result.change is not None:
            keys.append(f"watchdesk/change/{result.change.kind}")
            if result.change.significant:
                keys.append("watchdesk/change/significant")
        quiet = result.outcome.value in ("new_version", "unchanged")
        note = None if quiet or not result.reason else f"{result.outcome.value} ({result.reason})"
        return keys, note

    async def close_spider(self) -> None:
        """Write what is still queued, stop the writer, count matcher replacements (the
        matcher is given back when the crawl closes: `crawler.shared_pools`)."""
        self._write_next()
        while self.pending:
            await asyncio.wait(list(self.pending))
        self.writer.shutdown(wait=True)
        count_replaced(self.crawler, self.matcher, "watchdesk/match/process_replaced")


class RecordError(RuntimeError):
    """A check that could not be written (logged with its traceback); the item is dropped."""


class FollowupPipeline:
    """Score a discovered article against the events citing its outlet; store follow-ups.

    Only items from discovery (`watchdesk_discovered` in the request meta, carried by
    `FetchedPage.discovered`) are scored, after RecordPipeline has stored their version;
    rechecks of watched pages pass through untouched.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.sessions = open_store(crawler.settings.get("WATCHDESK_DB") or None)
        self.matcher = matcher_process(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        if not getattr(item, "discovered", False) or item.article is None:
            return item
        # In the store's writer thread: one writer for SQLite, and one call at a time for
        # the matcher process.
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(store_writer(self.crawler), self._score, item)
        stats = self.crawler.stats
        assert stats is not None
        for key in found:
            stats.inc_value(key)
        return item

    def _score(self, item: FetchedPage) -> list[str]:
        from storage.followups import record_followup

        keys = []
        with begin(self.sessions, self.matcher) as session:
            for outcome in record_followup(session, item.page_id, now=utcnow()):
                found = outcome.followup is not None
                keys.append(f"watchdesk/followup/{'found' if found else 'off_topic'}")
                if found:
                    logger.info(
                        "follow-up for %s: %s (score %.2f, items %s)",
                        outcome.event_slug,
                        item.url,
                        outcome.relevance.score,
                        [m.id for m in outcome.relevance.items],
                    )
        return keys


_WRITERS: WeakKeyDictionary[Crawler, ThreadPoolExecutor] = WeakKeyDictionary()


def store_writer(crawler: Crawler) -> ThreadPoolExecutor:
    """The one thread that writes to the store for this crawl (shared by the pipelines)."""
    if crawler not in _WRITERS:
        _WRITERS[crawler] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    return _WRITERS[crawler]


@contextmanager
def begin(sessions: sessionmaker[Session], matcher: MatcherProcess) -> Iterator[Session]:
    """A transaction whose links and follow-ups are scored by `matcher` (`storage.linking`)."""
    with sessions.begin() as session:
        session.info[MATCHER] = matcher
        yield session
