"""Downloader middlewares: the scheme guard and conditional requests.

Reads: nothing but request.meta keys `watchdesk_validators` ({"etag", "last_modified"}) and
`watchdesk_url` (the URL the validators belong to).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request, Spider


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
