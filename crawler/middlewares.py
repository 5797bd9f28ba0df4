"""Downloader middlewares: the scheme guard, conditional requests, retries with backoff.

Reads: nothing but request.meta keys `watchdesk_validators` ({"etag", "last_modified"}) and
`watchdesk_url` (the URL the validators belong to).
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Response
    from scrapy.settings import BaseSettings


class SchemeGuardMiddleware:
    """Only http(s) leaves the crawler: a card or feed with `file:` or `ftp:` gets nowhere."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            raise IgnoreRequest(f"refusing non-http(s) URL {request.url!r}")


class ConditionalRequestMiddleware:
    """Send If-None-Match / If-Modified-Since from the validators stored for the URL.

    The validators are stored per watched URL in the database and handed over in request
    meta, so any worker can make the request. They are sent only to the URL they were stored
    for: after a redirect, the new URL is fetched unconditionally (its validators would be
    someone else's). A 304 reaches the spider through `handle_httpstatus_list`.
    """

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        validators = request.meta.get("watchdesk_validators") or {}
        if request.meta.get("watchdesk_url") != request.url:
            request.headers.pop(b"If-None-Match", None)
            request.headers.pop(b"If-Modified-Since", None)
            return
        if validators.get("etag"):
            request.headers[b"If-None-Match"] = validators["etag"]
        if validators.get("last_modified"):
            request.headers[b"If-Modified-Since"] = validators["last_modified"]


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, spaced out: exponential backoff with jitter, or the server's own
    `Retry-After` (capped), instead of hammering an outlet that just said 503 or 429.

    Reads: RETRY_* (Scrapy's), WATCHDESK_RETRY_BACKOFF_BASE, WATCHDESK_RETRY_BACKOFF_MAX.
    The delay travels in request meta to RetryDelayMiddleware, which waits before the
    retried request goes out.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("WATCHDESK_RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("WATCHDESK_RETRY_BACKOFF_MAX", 60.0)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            retry_after = _retry_after(response.headers.get(b"Retry-After"))
            result.meta["watchdesk_retry_delay"] = self._delay(result, retry_after)
        return result

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            result.meta["watchdesk_retry_delay"] = self._delay(result, None)
        return result

    def _delay(self, request: Request, retry_after: float | None) -> float:
        tries = int(request.meta.get("retry_times", 1))
        jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreading retries, not secrets
        return retry_delay(tries, self.base, self.cap, retry_after, jitter)


def retry_delay(
    tries: int, base: float, cap: float, retry_after: float | None, jitter: float
) -> float:
    """Seconds to wait before retry number `tries`: the server's Retry-After if it gave one,
    else base·2^(tries-1) scaled by `jitter`; never more than `cap`."""
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    return min(cap, base * 2 ** (tries - 1) * jitter)


def _retry_after(value: bytes | None) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is ignored)."""
    try:
        return float(value.decode("latin-1")) if value else None
    except ValueError:
        return None


class RetryDelayMiddleware:
    """Wait the backoff delay a retried request carries, without blocking other downloads."""

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        delay = request.meta.pop("watchdesk_retry_delay", 0)
        if delay:
            await asyncio.sleep(delay)
