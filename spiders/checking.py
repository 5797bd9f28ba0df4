"""What every spider that checks an article shares: its request, and its item.

The watch spider and the discovery spiders must hand the recording pipelines the very same
item, so a discovered article is stored exactly like a watched one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.fetch.outcomes import TRANSIENT_STATUSES, retry_after_seconds
from crawler.items import FetchedPage
from storage.repositories import utcnow

#: Statuses the callback must see instead of HttpErrorMiddleware dropping them. 3xx are left
#: out on purpose: RedirectMiddleware follows them (and gives up on loops).
SEEN_STATUSES = [304, 400, 401, 403, 404, 405, 406, 408, 410, 429, 451, 500, 502, 503, 504]


def check_request(
    page: dict[str, Any],
    callback: Callable[..., Any],
    errback: Callable[..., Any],
    *,
    discovered: bool = False,
) -> scrapy.Request:
    """The request for one check of a page (`page`: id, url, etag, last_modified, body_hash,
    and the `lease` its result must be written under, if any)."""
    meta = {
        "watchdesk_page_id": page["id"],
        "watchdesk_url": page["url"],
        "watchdesk_validators": {
            "etag": page.get("etag"),
            "last_modified": page.get("last_modified"),
        },
        "watchdesk_body_hash": page.get("body_hash"),
        "watchdesk_started": (utcnow(), time.monotonic()),
        "watchdesk_discovered": discovered,
        "watchdesk_lease": page.get("lease"),
        "handle_httpstatus_list": SEEN_STATUSES,
    }
    return scrapy.Request(
        page["url"], callback=callback, errback=errback, meta=meta, dont_filter=True
    )


def item_from_response(response: Response) -> FetchedPage:
    """Any response to a check request, as a FetchedPage."""
    item = _item(response.meta)
    item.status = response.status
    item.final_url = response.url
    item.redirects = list(response.meta.get("redirect_urls", []))
    item.content_type = _header(response, b"Content-Type") or ""
    item.etag = _header(response, b"ETag")
    item.last_modified = _header(response, b"Last-Modified")
    if response.status in TRANSIENT_STATUSES or response.status >= 500:
        item.retry_after = retry_after_seconds(_header(response, b"Retry-After"), utcnow())
    if response.status == 200:
        item.body = response.body
        item.body_hash = hashlib.sha256(response.body).hexdigest()
        stored = response.meta.get("watchdesk_body_hash")
        item.same_body = item.body_hash == stored
        item.changed_body = stored is not None and not item.same_body
    return item


def item_from_failure(failure: Failure) -> FetchedPage:
    """A check request that got no response after retries: a transient failure."""
    request = getattr(failure, "request", None)
    item = _item(request.meta if request is not None else {})
    item.error = f"{failure.type.__name__}: {failure.getErrorMessage()}"[:500]
    return item


def _item(meta: dict[str, Any]) -> FetchedPage:
    started_at, started = meta.get("watchdesk_started", (utcnow(), time.monotonic()))
    return FetchedPage(
        page_id=meta["watchdesk_page_id"],
        url=meta["watchdesk_url"],
        started_at=started_at,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        discovered=bool(meta.get("watchdesk_discovered")),
        lease=meta.get("watchdesk_lease"),
    )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
