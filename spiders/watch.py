"""The watch spider: recheck watched pages with conditional requests.

`scrapy crawl watch -a event=SLUG` (or `-a urls=URL,URL`, `-a outlet=NAME`, `-a due=1`).
Which pages, their validators and their leases come from the database, so any number of
these spiders can run against one PostgreSQL store without checking a page twice. The
daemon hands it pages it has claimed itself (`claimed`: `storage.leases.ClaimedPage` specs,
each with the fencing lease its check is written under).

Reads: WATCHDESK_DB, WATCHDESK_LEASE_MINUTES, WATCHDESK_DISCOVERED_RECHECK_DAYS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.interrupt import interrupted
from crawler.items import FetchedPage
from spiders.checking import check_request, item_from_failure, item_from_response
from storage.db import open_store
from storage.repositories import claim_pages, lease_owner, release_pages, select_pages, utcnow


class WatchSpider(scrapy.Spider):
    """Check every selected watched page once."""

    name = "watch"

    def __init__(
        self,
        event: str | None = None,
        urls: str | list[str] | None = None,
        outlet: str | None = None,
        due: str | bool = False,
        owner: str | None = None,
        claimed: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.claimed = list(claimed) if claimed is not None else None
        self.event = event
        self.urls = urls.split(",") if isinstance(urls, str) else list(urls or [])
        self.outlet = outlet
        self.due = due not in (False, "", "0", "false", None)
        self.owner = owner or lease_owner("watch")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Claim the selected pages and request each one once."""
        for spec in self._claim():
            yield self._request(spec)

    def _claim(self) -> list[dict[str, Any]]:
        settings = self.crawler.settings
        self.sessions = open_store(settings.get("WATCHDESK_DB") or None)
        if self.claimed is not None:  # claimed by the caller, under fencing leases
            return self.claimed
        ttl = timedelta(minutes=settings.getint("WATCHDESK_LEASE_MINUTES", 30))
        query = select_pages(
            event_slug=self.event,
            urls=self.urls,
            outlet=self.outlet,
            due_before=utcnow() if self.due else None,
            discovered_days=settings.getfloat("WATCHDESK_DISCOVERED_RECHECK_DAYS", 3),
        )
        with self.sessions.begin() as session:
            pages = list(session.scalars(query))
            claimed = set(claim_pages(session, [p.id for p in pages], self.owner, ttl))
            specs = [_spec(p) for p in pages if p.id in claimed]
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("watchdesk/pages/selected", len(pages))
        stats.set_value("watchdesk/pages/claimed", len(specs))
        stats.set_value("watchdesk/pages/leased_elsewhere", len(pages) - len(specs))
        return specs

    def _request(self, page: dict[str, Any]) -> scrapy.Request:
        # A discovered article is scored again (FollowupPipeline) whenever a recheck finds a
        # new version: a retried first fetch, or an edit that makes it a follow-up.
        discovered = page["origin"] == "discovered"
        return check_request(page, self.parse, self.failed, discovered=discovered)

    def parse(self, response: Response) -> FetchedPage:
        """Turn any response the spider sees into a FetchedPage item."""
        return item_from_response(response)

    def failed(self, failure: Failure) -> FetchedPage | None:
        """A request that produced no response after retries: a transient failure. After a
        stop signal nothing is recorded: the page is given back (`closed` frees its lease)."""
        return None if interrupted(self.crawler) else item_from_failure(failure)

    def closed(self, reason: str) -> None:
        """Give back the leases of pages that were never answered (a stop mid-crawl)."""
        if not hasattr(self, "sessions"):
            return
        with self.sessions.begin() as session:
            if self.claimed is None:
                release_pages(session, self.owner)
            for spec in self.claimed or ():  # still held under the caller's lease: unanswered
                release_pages(session, spec["lease"][0], [spec["id"]])


def _spec(page: Any) -> dict[str, Any]:
    keys = ("id", "url", "etag", "last_modified", "body_hash", "origin")
    return {key: getattr(page, key) for key in keys}
