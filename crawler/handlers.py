"""Download handler that honours WATCHDESK_HOST_MAP.

A request for `https://focustaiwan.tw/politics/1` goes over the wire to
`http://127.0.0.1:8080/focustaiwan.tw/politics/1` when the map says so, and the response
comes back under the real URL. Rewriting at the transport, rather than in a middleware,
keeps everything above it real: robots.txt is asked per real host, per-host download slots
and politeness apply per outlet, redirects, stored URLs and reports never see the replay.

Reads: WATCHDESK_HOST_MAP (JSON object host -> base URL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

from crawler.config import host_map_from_settings
from crawler.fetch.urls import rewrite_for_host_map

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class HostMapDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with the host map applied on the wire only."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.host_map = host_map_from_settings(crawler.settings)

    async def download_request(self, request: Request) -> Response:
        target = rewrite_for_host_map(request.url, self.host_map) if self.host_map else None
        if target is None:
            return await super().download_request(request)
        response = await super().download_request(request.replace(url=target))
        return response.replace(url=request.url, request=request)
