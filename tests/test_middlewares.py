"""Downloader middlewares with Scrapy's own test crawler and hand-made requests."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler import settings as defaults
from crawler.middlewares import (
    BackoffRetryMiddleware,
    ConditionalRequestMiddleware,
    SchemeGuardMiddleware,
    retry_delay,
)
from spiders.watch import WatchSpider

URL = "https://focustaiwan.tw/politics/202605100007"


def request(url: str = URL, **validators: str) -> Request:
    meta = {"watchdesk_url": URL, "watchdesk_validators": validators}
    return Request(url, meta=meta)


def test_stored_validators_become_conditional_headers() -> None:
    req = request(etag='"abc"', last_modified="Fri, 08 May 2026 10:00:00 GMT")
    ConditionalRequestMiddleware().process_request(req)
    assert req.headers[b"If-None-Match"] == b'"abc"'
    assert req.headers[b"If-Modified-Since"] == b"Fri, 08 May 2026 10:00:00 GMT"


def test_no_validators_after_a_redirect_to_another_url() -> None:
    req = request("https://focustaiwan.tw/politics/202605100008", etag='"abc"')
    req.headers[b"If-None-Match"] = b'"abc"'  # copied over by RedirectMiddleware
    ConditionalRequestMiddleware().process_request(req)
    assert b"If-None-Match" not in req.headers


def test_first_fetch_is_unconditional() -> None:
    req = request()
    ConditionalRequestMiddleware().process_request(req)
    assert b"If-None-Match" not in req.headers and b"If-Modified-Since" not in req.headers


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "data:text/html,x"])
def test_scheme_guard_refuses_non_http(url: str) -> None:
    with pytest.raises(IgnoreRequest):
        SchemeGuardMiddleware().process_request(Request(url))


def backoff_middleware() -> BackoffRetryMiddleware:
    names = (
        "RETRY_TIMES",
        "RETRY_HTTP_CODES",
        "WATCHDESK_RETRY_BACKOFF_BASE",
        "WATCHDESK_RETRY_BACKOFF_MAX",
    )
    crawler = get_crawler(WatchSpider, {name: getattr(defaults, name) for name in names})
    crawler.spider = WatchSpider.from_crawler(crawler)
    return BackoffRetryMiddleware.from_crawler(crawler)


def test_retried_503_carries_a_backoff_delay() -> None:
    middleware = backoff_middleware()
    retried = middleware.process_response(request(), Response(URL, status=503))
    assert isinstance(retried, Request)
    assert 1.0 <= retried.meta["watchdesk_retry_delay"] <= 3.0  # base 2 s, ±50 %
    again = middleware.process_response(retried, Response(URL, status=503))
    assert 2.0 <= again.meta["watchdesk_retry_delay"] <= 6.0  # doubled


def test_retry_after_is_honoured_and_capped() -> None:
    middleware = backoff_middleware()
    response = Response(URL, status=429, headers={"Retry-After": "7"})
    retried = middleware.process_response(request(), response)
    assert retried.meta["watchdesk_retry_delay"] == 7.0
    assert retry_delay(1, 2.0, 60.0, 3600.0, 1.0) == 60.0


def test_final_failure_is_handed_to_the_spider() -> None:
    middleware = backoff_middleware()
    req = request()
    req.meta["retry_times"] = 2  # RETRY_TIMES reached
    response = Response(URL, status=503)
    assert middleware.process_response(req, response) is response


@pytest.mark.parametrize(
    ("tries", "jitter", "expected"), [(1, 1.0, 2.0), (2, 1.0, 4.0), (3, 0.5, 4.0), (10, 1.5, 60.0)]
)
def test_retry_delay_doubles_with_jitter_and_cap(
    tries: int, jitter: float, expected: float
) -> None:
    assert retry_delay(tries, 2.0, 60.0, None, jitter) == expected
