"""Downloader middlewares: the scheme and address guards, robots.txt as RFC 9309 reads it,
conditional requests, retries with backoff.

Reads: WATCHDESK_HOST_MAP and WATCHDESK_ALLOW_PRIVATE_HOSTS (the address guard's
exemptions), ROBOTSTXT_* (Scrapy's), and request.meta keys `watchdesk_validators`
({"etag", "last_modified"}) and `watchdesk_url` (the URL the validators belong to).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawler.config import address_guard_from_settings
from crawler.fetch.outcomes import retry_after_seconds
from crawler.interrupt import until_interrupted

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


class SchemeGuardMiddleware:
    """Only http(s) leaves the crawler: a card or feed with `file:` or `ftp:` gets nowhere."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            raise IgnoreRequest(f"refusing non-http(s) URL {request.url!r}")


class AddressGuardMiddleware:
    """Refuse every request whose host is, or resolves to, a non-public address.

    Runs before everything else that could make a connection (robots.txt is fetched by
    RobotsTxtMiddleware at 100), and a redirect's next hop comes back through here like a
    new request, so a public page that redirects to 169.254.169.254 gets nowhere. Host map
    hosts and WATCHDESK_ALLOW_PRIVATE_HOSTS are exempt (`crawler.fetch.guard`). Name
    resolution runs in the guard's own worker threads (never queued behind extraction or
    the store), cached a minute per host; the address actually connected to is checked
    again in `crawler.handlers` (DNS rebinding).
    """

    CACHE_SECONDS = 60.0

    def __init__(self, crawler: Crawler) -> None:
        self.guard = address_guard_from_settings(crawler.settings)
        self.stats = crawler.stats
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="guard-dns")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_closed(self) -> None:
        self._resolver.shutdown(wait=False, cancel_futures=True)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        key = request.url.split("/", 3)[2] if request.url.count("/") >= 2 else request.url
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.CACHE_SECONDS:
            problem = cached[1]
        elif self.guard.exempt(urlparse_cached(request).hostname or ""):
            problem = None  # a host map or allowed host: nothing to resolve
        else:
            loop = asyncio.get_running_loop()
            problem = await loop.run_in_executor(
                self._resolver, self.guard.url_problem, request.url
            )
            self._cache[key] = (time.monotonic(), problem)
        if problem is None:
            return
        if self.stats is not None:
            self.stats.inc_value("watchdesk/guard/refused")
        hop = " (a redirect)" if request.meta.get("redirect_urls") else ""
        logger.warning("address guard: skipped a request%s: %s", hop, problem)
        raise IgnoreRequest(f"address guard: {problem}")


class Rfc9309RobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with RFC 9309's reading of a missing robots.txt.

    Scrapy 2.19 parses whatever body comes back, so a 503 page or a connection error means
    "allow everything", and a 404 page that happens to contain `Disallow: /` forbids it.
    RFC 9309 2.3.1: a 4xx ("unavailable") allows everything; a 5xx or no answer at all
    ("unreachable") means disallow everything, for now (the answer is not kept past this
    crawl). The two refusals read differently on the fetch row: "Forbidden by robots.txt"
    (Scrapy's) is the outlet's decision and never counts towards its circuit breaker
    (`scheduler.state.REFUSAL_ERRORS`); "robots.txt unreachable" is the outlet failing and
    counts like any 5xx. A refusal by the address guard stays Scrapy's (no parser): the
    request itself is refused by the same guard.
    """

    DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.unreachable: dict[str, str] = {}

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("dont_obey_robotstxt") and urlparse_cached(request).path == (
            "/robots.txt"
        ):
            # Its own download slot: in the host's slot, the page waiting for this answer
            # would then wait out DOWNLOAD_DELAY too, holding a unit of CONCURRENT_REQUESTS
            # (measured: 15.7 s instead of 6 s for 90 pages on 30 hosts, bench/politeness.py).
            host = urlparse_cached(request).hostname or ""
            request.meta.setdefault("download_slot", f"{host} robots.txt")
            return
        await super().process_request(request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        reason = self.unreachable.get(urlparse_cached(request).netloc)
        if reason is not None:
            self._stats.inc_value("robotstxt/unreachable_disallowed")
            raise IgnoreRequest(f"robots.txt unreachable ({reason}): disallow all for now")
        super().process_request_2(rp, request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if 400 <= response.status < 500:
            response = response.replace(body=b"")
        elif response.status >= 500:
            logger.info("robots.txt of %s answered HTTP %s: disallow all", netloc, response.status)
            self.unreachable[netloc] = f"HTTP {response.status}"
            response = response.replace(body=self.DISALLOW_ALL)
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):
            super()._robots_error(exc, netloc)
            return
        logger.info("robots.txt of %s unreachable (%s): disallow all", netloc, type(exc).__name__)
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self.unreachable[netloc] = type(exc).__name__
        parser = build_from_crawler(self._parserimpl, self.crawler, self.DISALLOW_ALL)
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)


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
    `Retry-After`, instead of hammering an outlet that just said 503 or 429.

    A `Retry-After` longer than WATCHDESK_RETRY_BACKOFF_MAX is not retried in this crawl at
    all (waiting would hold a download slot, retrying sooner would ignore the server): the
    answer goes to the spider, and the page's next check is set after the Retry-After time
    (`storage.checks`), as a transient outcome, never a failure of the article.

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
        header = response.headers.get(b"Retry-After")
        text = header.decode("latin-1") if header else None
        retry_after = retry_after_seconds(text, datetime.now(UTC))
        if retry_after is not None and retry_after > self.cap:
            return response  # deferred: the page is checked again after Retry-After
        result = super().process_response(request, response)
        if isinstance(result, Request):
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
    else base·2^(tries-1) scaled by `jitter`; never more than `cap` (a longer Retry-After is
    not retried at all, see BackoffRetryMiddleware)."""
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    return min(cap, base * 2 ** (tries - 1) * jitter)


class RetryDelayMiddleware:
    """Wait the backoff delay a retried request carries, without blocking other downloads.

    A stop signal ends the wait at once (`crawler.interrupt`): the retry is never sent.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryDelayMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        delay = request.meta.pop("watchdesk_retry_delay", 0)
        if delay:
            await until_interrupted(self.crawler, asyncio.sleep(delay))
