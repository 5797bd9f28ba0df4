"""A spider loader that imports only the module of the spider asked for.

Scrapy's `SpiderLoader` imports every module under SPIDER_MODULES when a crawler process
starts, so `watchdesk crawl` paid for the discovery spiders (feedparser, the sitemap
parser, storage.followups, PostgreSQL's dialect) and the worker spider before checking a
single page: ~0.14 s of process CPU. Our spiders live in a module named like the spider
(`spiders/watch.py` holds `watch`), so `load(name)` imports that module and falls back to
Scrapy's full walk for any other layout; `list()` and `find_by_request()` walk everything,
as `scrapy list` needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from scrapy.spiderloader import SpiderLoader

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.settings import BaseSettings


class LazySpiderLoader(SpiderLoader):
    """Scrapy's loader, walking SPIDER_MODULES only when a name is not its module's."""

    def __init__(self, settings: BaseSettings) -> None:
        self._walked = False
        super().__init__(settings)

    def _load_all_spiders(self) -> None:
        if self._walked:  # Scrapy calls this from __init__: deferred to the first need
            super()._load_all_spiders()

    def _walk(self) -> None:
        if not self._walked:
            self._walked = True
            self._spiders.clear()
            self._found.clear()
            self._load_all_spiders()

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name not in self._spiders and not self._walked:
            for package in self.spider_modules:
                name = f"{package}.{spider_name}"
                try:
                    module = import_module(name)
                except ModuleNotFoundError as error:
                    if error.name != name:
                        raise  # the module exists and fails to import: Scrapy would raise
                    continue
                self._load_spiders(module)
            if spider_name not in self._spiders:
                self._walk()
        return super().load(spider_name)

    def list(self) -> list[str]:
        self._walk()
        return super().list()

    def find_by_request(self, request: Request) -> list[str]:
        self._walk()
        return super().find_by_request(request)
