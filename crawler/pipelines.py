"""Item pipelines: extraction off the event loop, then one transaction per checked page.

Reads: WATCHDESK_DB, WATCHDESK_EXTRACT_THREADS, WATCHDESK_REMOVAL_CONFIRMATIONS.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Self

from crawler.extraction import extract_article, is_challenge_page
from crawler.items import FetchedPage
from storage.checks import record_check
from storage.db import open_store
from storage.followups import record_followup
from storage.repositories import utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Turn a new 200 body into an ArticleText, in a worker thread.

    Skipped when the bytes equal the stored ones (no extraction for an unchanged page) and
    for non-200 or non-HTML answers. Extraction is CPU-bound; a thread keeps the reactor free
    to go on fetching while lxml (which releases the GIL while parsing) works.
    """

    def __init__(self, threads: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="extract")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getint("WATCHDESK_EXTRACT_THREADS", 2))

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        if item.status != 200 or item.body is None or item.same_body:
            return item
        loop = asyncio.get_running_loop()
        item.challenge = await loop.run_in_executor(
            self.executor, is_challenge_page, item.body, item.status
        )
        if not item.challenge:
            item.article = await loop.run_in_executor(
                self.executor, extract_article, item.body, item.final_url or item.url
            )
        return item

    def close_spider(self) -> None:
        self.executor.shutdown(wait=True)


class RecordPipeline:
    """Write each check in its own transaction: the fetch, a version, a change, or nothing."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.sessions = open_store(settings.get("WATCHDESK_DB") or None)
        self.confirmations = settings.getint("WATCHDESK_REMOVAL_CONFIRMATIONS", 2)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: FetchedPage) -> FetchedPage:
        stats = self.crawler.stats
        assert stats is not None
        with self.sessions.begin() as session:
            result = record_check(session, item, now=utcnow(), confirmations=self.confirmations)
            stats.inc_value(f"watchdesk/outcome/{result.outcome.value}")
            if result.flap:
                stats.inc_value("watchdesk/version/flap")
            if result.version is not None:
                stats.inc_value("watchdesk/version/new")
            if result.change is not None:
                stats.inc_value(f"watchdesk/change/{result.change.kind}")
                if result.change.significant:
                    stats.inc_value("watchdesk/change/significant")
        if result.reason and result.outcome.value not in ("new_version", "unchanged"):
            logger.info("%s: %s (%s)", item.url, result.outcome.value, result.reason)
        return item


class FollowupPipeline:
    """Score a discovered article against the events citing its outlet; store follow-ups.

    Only items from discovery (`watchdesk_discovered` in the request meta, carried by
    `FetchedPage.discovered`) are scored, after RecordPipeline has stored their version;
    rechecks of watched pages pass through untouched.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.sessions = open_store(crawler.settings.get("WATCHDESK_DB") or None)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: FetchedPage) -> FetchedPage:
        if not getattr(item, "discovered", False) or item.article is None:
            return item
        stats = self.crawler.stats
        assert stats is not None
        with self.sessions.begin() as session:
            for outcome in record_followup(session, item.page_id, now=utcnow()):
                found = outcome.followup is not None
                stats.inc_value(f"watchdesk/followup/{'found' if found else 'off_topic'}")
                if found:
                    logger.info(
                        "follow-up for %s: %s (score %.2f, items %s)",
                        outcome.event_slug,
                        item.url,
                        outcome.relevance.score,
                        [m.id for m in outcome.relevance.items],
                    )
        return item
