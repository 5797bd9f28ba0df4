"""One extraction pool and one matcher process per OS process, shared by all its crawls.

Why: a daemon runs one crawl per host job, many at once (up to WATCHDESK_WORKER_HOSTS), and
a worker runs discovery crawls beside its check loop. With a pool and a matcher per crawl,
one daemon tick over 20 hosts whose pages were new spawned 46 processes holding 3.8 GB on a
2-core machine (measured: `watchdesk daemon --once` on 200 bench pages), and every crawl
with an edit loaded the sentence encoder again. Extraction is sized to the machine
(`crawler.extract.pool.default_workers`), so its pool must be the process's, not the crawl's.

Each crawl takes a reference when its pipelines first ask (`extraction_pool`,
`matcher_process`) and gives it back at its `spider_closed` signal, which Scrapy sends after
the pipelines have closed; `held` keeps one for a whole command (`crawler.running.run_crawls`),
so the crawls of a daemon's ticks, of the demo, or of a worker's discovery reuse warm workers
and one loaded encoder. The last reference closes them. Processes still start only when a
page needs them (`SpawnedPool.start`), so holding a reference costs nothing until then.

All calls come from the reactor's thread (pipelines' construction, signal handlers, the
command's main), so the counts need no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar
from weakref import WeakKeyDictionary

from scrapy import signals

from crawler.extract.pool import ExtractionPool
from crawler.matching.process import MatcherProcess
from crawler.processes import SpawnedPool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

P = TypeVar("P", bound=SpawnedPool)


class Shared(Generic[P]):
    """A pool made on first use, counted by its users, closed when the last leaves."""

    def __init__(self, make: Callable[[BaseSettings], P]) -> None:
        self._make = make
        self._pool: P | None = None
        self.users = 0

    @property
    def pool(self) -> P | None:
        """The live pool, if anyone holds it (for tests and diagnostics)."""
        return self._pool

    def acquire(self, settings: BaseSettings) -> P:
        """The pool (made from `settings` if nobody holds it), with one more user."""
        if self._pool is None:
            self._pool = self._make(settings)
        self.users += 1
        return self._pool

    def release(self) -> None:
        """One user fewer; the last one closes the pool (a later user gets a new one)."""
        self.users = max(self.users - 1, 0)
        if self.users == 0 and self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()


EXTRACTION: Shared[ExtractionPool] = Shared(
    lambda settings: ExtractionPool(settings.getint("WATCHDESK_EXTRACT_WORKERS", 0))
)
MATCHER: Shared[MatcherProcess] = Shared(lambda _settings: MatcherProcess())

#: What each crawl took: name -> (shared, pool, the pool's replacements when taken).
_TAKEN: WeakKeyDictionary[Crawler, dict[str, tuple[Shared, SpawnedPool, int]]] = WeakKeyDictionary()


def extraction_pool(crawler: Crawler) -> ExtractionPool:
    """The process's extraction pool, taken for this crawl until it closes."""
    return _take(crawler, "extract", EXTRACTION)


def matcher_process(crawler: Crawler) -> MatcherProcess:
    """The process's matcher, taken for this crawl until it closes (spawned at its first
    call or `warm`)."""
    return _take(crawler, "match", MATCHER)


def _take(crawler: Crawler, name: str, shared: Shared[P]) -> P:
    taken = _TAKEN.get(crawler)
    if taken is None:
        taken = _TAKEN[crawler] = {}
        crawler.signals.connect(
            lambda **_: _give_back(crawler), signal=signals.spider_closed, weak=False
        )
    if name not in taken:
        pool = shared.acquire(crawler.settings)
        taken[name] = (shared, pool, pool.replacements)
    return taken[name][1]  # type: ignore[return-value]


def count_replaced(crawler: Crawler, pool: SpawnedPool, key: str) -> None:
    """Set stats `key` to how many dead workers `pool` replaced since this crawl took it.

    Called by the pipelines at their close, not by `_give_back`: the `spider_closed`
    handlers that store a run's stats may run before it."""
    for _shared, taken, replacements_then in _TAKEN.get(crawler, {}).values():
        if taken is pool and pool.replacements > replacements_then and crawler.stats is not None:
            crawler.stats.set_value(key, pool.replacements - replacements_then)


def _give_back(crawler: Crawler) -> None:
    """At the crawl's close: release what it took."""
    for shared, _pool, _replacements in _TAKEN.pop(crawler, {}).values():
        shared.release()


@contextmanager
def held(settings: BaseSettings) -> Iterator[None]:
    """Keep both pools for the duration (a command's crawls then share them), closing
    them at the end unless a crawl still holds them."""
    EXTRACTION.acquire(settings)
    MATCHER.acquire(settings)
    try:
        yield
    finally:
        MATCHER.release()
        EXTRACTION.release()
