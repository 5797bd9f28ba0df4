"""The ceiling: a Scrapy crawl that fetches the same URLs and does nothing with them.

Run as `python bench/fetch_only.py URLS_FILE` with WATCHDESK_HOST_MAP set; prints JSON stats.
Same project settings as `watchdesk crawl` (robots.txt, host map, concurrency), no pipelines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.settings import BENCH_SETTINGS
from crawler.config import project_settings
from crawler.running import crawl_once, run_crawls


class FetchOnlySpider(scrapy.Spider):
    """Fetch each URL once and drop the response."""

    name = "fetch_only"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True, callback=self.parse)

    def parse(self, response: Response) -> None:
        self.crawler.stats.inc_value("bench/fetched")


def main() -> None:
    urls = Path(sys.argv[1]).read_text().split()
    settings = project_settings({**BENCH_SETTINGS, "ITEM_PIPELINES": {}, "EXTENSIONS": {}})

    async def run(runner: Any) -> dict[str, Any]:
        return await crawl_once(runner, FetchOnlySpider, urls=urls)

    stats = run_crawls(settings, run)
    print(json.dumps({k: v for k, v in stats.items() if isinstance(v, (int, float))}))


if __name__ == "__main__":
    main()
