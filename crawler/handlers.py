"""Download handler that honours WATCHDESK_HOST_MAP.

A request for `https://focustaiwan.tw/politics/1` goes over the wire to
`http://127.0.0.1:8080/focustaiwan.tw/politics/1` when the map says so, and the response
comes back under the real URL. Rewriting at the transport, rather than in a middleware,
keeps everything above it real: robots.txt is asked per real host, per-host download slots
and politeness apply per outlet, redirects, stored URLs and reports never see the replay.

It also re-checks the address actually connected to (DNS rebinding: a name that resolved to a
public address for `AddressGuardMiddleware` and to 10.0.0.5 a moment later). Twisted's
connection hands the peer address to Scrapy as `response.ip_address`; a response from a
non-public peer is dropped with IgnoreRequest before any spider, pipeline or store sees its
body. The limit: the check comes after the request was sent (the handler connects and writes
in one step), so a rebinding host can still make the crawler send one GET, but never read
its answer. Host map hosts and WATCHDESK_ALLOW_PRIVATE_HOSTS are exempt, as in the middleware,
and so is a request sent through a proxy (the peer is the proxy; the name check still holds).

A download still on the wire when the crawl is interrupted (SIGINT, SIGTERM) is cancelled
with `crawler.interrupt.RequestInterrupted`.

Reads: WATCHDESK_HOST_MAP (JSON object host -> base URL), WATCHDESK_ALLOW_PRIVATE_HOSTS.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawler.config import address_guard_from_settings, host_map_from_settings
from crawler.fetch.urls import rewrite_for_host_map
from crawler.interrupt import until_interrupted

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class HostMapDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with the host map applied on the wire only."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.crawler = crawler
        self.host_map = host_map_from_settings(crawler.settings)
        self.guard = address_guard_from_settings(crawler.settings)
        self.stats = crawler.stats

    async def download_request(self, request: Request) -> Response:
        # A stop signal cancels the download on the wire (`crawler.interrupt`).
        return await until_interrupted(self.crawler, self._download(request))

    async def _download(self, request: Request) -> Response:
        target = rewrite_for_host_map(request.url, self.host_map) if self.host_map else None
        if target is None:
            response = await super().download_request(request)
            host = urlparse_cached(request).hostname or ""
            # Through a proxy the peer is the proxy (often a private address): not checked.
            peer = None if request.meta.get("proxy") else response.ip_address
            problem = self.guard.peer_problem(host, peer)
            if problem:
                if self.stats is not None:
                    self.stats.inc_value("watchdesk/guard/refused")
                logger.warning("address guard: dropped an answer: %s", problem)
                raise IgnoreRequest(f"address guard: {problem}")
            return response
        response = await super().download_request(request.replace(url=target))
        return response.replace(url=request.url, request=request)
