"""RunSummary: one `run` row per crawl, holding the crawl's watchdesk/* stats.

Reads: WATCHDESK_DB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from scrapy import signals

from storage.db import open_store
from storage.models import Run
from storage.repositories import utcnow

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler


class RunSummary:
    """Record each crawl's start, end and outcome counts, so `watchdesk status` and the
    daemon can tell what every run did without reading logs."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.sessions = open_store(crawler.settings.get("WATCHDESK_DB") or None)
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def opened(self, spider: Spider) -> None:
        with self.sessions.begin() as session:
            owner = getattr(spider, "owner", spider.name)
            run = Run(kind=spider.name, owner=owner, started_at=utcnow())
            session.add(run)
            session.flush()
            self.run_id = run.id

    def closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        kept = {
            k: v
            for k, v in stats.items()
            if k.startswith(("watchdesk/", "downloader/response_status"))
        }
        kept["finish_reason"] = reason
        with self.sessions.begin() as session:
            run = session.get(Run, self.run_id) if self.run_id else None
            if run is not None:
                run.finished_at = utcnow()
                run.stats = kept
