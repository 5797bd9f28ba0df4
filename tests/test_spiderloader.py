"""The lazy spider loader: a crawl imports only its spider's module; listing finds them all."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scrapy.spiderloader import get_spider_loader

from crawler.config import project_settings

PROBE = """
import sys
from scrapy.spiderloader import get_spider_loader
from crawler.config import project_settings
loader = get_spider_loader(project_settings())
spider = loader.load("watch")
print(spider.__module__, "spiders.base" in sys.modules, "spiders.worker" in sys.modules)
"""


def test_loading_a_spider_imports_only_its_module() -> None:
    # A fresh interpreter: this test process has imported every spider module already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["spiders.watch", "False", "False"]


def test_list_and_unknown_names_walk_every_module() -> None:
    loader = get_spider_loader(project_settings())
    assert loader.load("generic").name == "generic"
    assert {"watch", "worker", "generic", "abc_com_py"} <= set(loader.list())
    with pytest.raises(KeyError):
        get_spider_loader(project_settings()).load("no_such_spider")
