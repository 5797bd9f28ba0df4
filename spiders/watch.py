"""The watch spider: recheck watched pages with conditional requests.

`scrapy crawl watch -a event=SLUG` (or `-a urls=URL,URL`, `-a outlet=NAME`, `-a due=1`).
Which pages, their validators and their leases come from the database, so any number of
these spiders can run against one PostgreSQL store without checking a page twice.

Reads: WATCHDESK_DB, WATCHDESK_LEASE_MINUTES.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.items import FetchedPage
from storage.db import open_store
from storage.repositories import claim_pages, release_pages, select_pages, utcnow

#: Statuses the callback must see instead of HttpErrorMiddleware dropping them. 3xx are left
#: out on purpose: RedirectMiddleware follows them (and gives up on loops).
SEEN_STATUSES = [304, 400, 401, 403, 404, 405, 406, 408, 410, 429, 451, 500, 502, 503, 504]


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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event = event
        self.urls = urls.split(",") if isinstance(urls, str) else list(urls or [])
        self.outlet = outlet
        self.due = due not in (False, "", "0", "false", None)
        self.owner = owner or f"watch-{uuid.uuid4().hex[:12]}"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Claim the selected pages and request each one once."""
        for spec in self._claim():
            yield self._request(spec)

    def _claim(self) -> list[dict[str, Any]]:
        settings = self.crawler.settings
        self.sessions = open_store(settings.get("WATCHDESK_DB") or None)
        ttl = timedelta(minutes=settings.getint("WATCHDESK_LEASE_MINUTES", 30))
        query = select_pages(
            event_slug=self.event,
            urls=self.urls,
            outlet=self.outlet,
            due_before=utcnow() if self.due else None,
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

    def _request(self, spec: dict[str, Any]) -> scrapy.Request:
        meta = {
            "watchdesk_page_id": spec["id"],
            "watchdesk_url": spec["url"],
            "watchdesk_validators": {"etag": spec["etag"], "last_modified": spec["last_modified"]},
            "watchdesk_body_hash": spec["body_hash"],
            "watchdesk_started": (utcnow(), time.monotonic()),
            "handle_httpstatus_list": SEEN_STATUSES,
        }
        return scrapy.Request(
            spec["url"], callback=self.parse, errback=self.failed, meta=meta, dont_filter=True
        )

    def parse(self, response: Response) -> FetchedPage:
        """Turn any response the spider sees into a FetchedPage item."""
        item = _item(response.request.meta if response.request else {})
        item.status = response.status
        item.final_url = response.url
        item.redirects = list(response.meta.get("redirect_urls", []))
        item.content_type = _header(response, b"Content-Type") or ""
        item.etag = _header(response, b"ETag")
        item.last_modified = _header(response, b"Last-Modified")
        if response.status == 200:
            item.body = response.body
            item.body_hash = hashlib.sha256(response.body).hexdigest()
            item.same_body = item.body_hash == response.meta.get("watchdesk_body_hash")
        return item

    def failed(self, failure: Failure) -> FetchedPage:
        """A request that produced no response after retries: a transient failure."""
        request = getattr(failure, "request", None)
        item = _item(request.meta if request is not None else {})
        item.error = f"{failure.type.__name__}: {failure.getErrorMessage()}"[:500]
        return item

    def closed(self, reason: str) -> None:
        """Give back the leases of pages that were never answered (a stop mid-crawl)."""
        if hasattr(self, "sessions"):
            with self.sessions.begin() as session:
                release_pages(session, self.owner)


def _spec(page: Any) -> dict[str, Any]:
    keys = ("id", "url", "etag", "last_modified", "body_hash")
    return {key: getattr(page, key) for key in keys}


def _item(meta: dict[str, Any]) -> FetchedPage:
    started_at, started = meta.get("watchdesk_started", (utcnow(), time.monotonic()))
    return FetchedPage(
        page_id=meta["watchdesk_page_id"],
        url=meta["watchdesk_url"],
        started_at=started_at,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
