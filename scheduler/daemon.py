"""`watchdesk daemon`: one APScheduler interval job (the tick) on Scrapy's asyncio reactor.

The schedule itself lives in the store (`page.next_check_at`, `outlet.next_discovery_at`,
digest runs), so the scheduler holds a single in-memory job and nothing is lost when the
process dies: a restarted daemon finds due pages due and takes them in one tick — a missed
run is caught up once, never replayed. `AsyncIOScheduler` runs inside the reactor's asyncio
loop (STACK-NOTES.md: the clean combination with `AsyncCrawlerRunner`). Any number of
daemons share one store, all checking pages; one leads (`scheduler.jobs`). Beside the tick,
a task beats the daemon's heartbeat and renews its leases every third of the lease time.

SIGTERM and SIGINT stop it within seconds: no new tick and no new crawl, running crawls are
interrupted (`crawler.interrupt`: queued and in-flight requests are cut, answers already in
are recorded, unanswered pages' leases are given back), every lease (the leader's too) is
released, and the process exits with 128 + the signal (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader

from crawler.interrupt import stop_crawls
from scheduler.jobs import DaemonConfig, Worker
from storage.db import open_store

logger = logging.getLogger(__name__)

#: Seconds a stopping daemon waits for its interrupted crawls to close before giving up on
#: them (a page they still hold is taken over at once by the next local process).
STOP_GRACE = 4.0


def discovery_profiles(settings: BaseSettings) -> dict[str, str]:
    """host -> discovery spider for every outlet profile, `*` -> the generic one.

    Empty when the project has no discovery spiders (the daemon then only rechecks).
    """
    try:
        loader = SpiderLoader.from_settings(settings)
        names = loader.list()
    except Exception:  # a broken spider module must not stop rechecks
        logger.exception("cannot load the discovery spiders; the daemon will not discover")
        return {}
    profiles = {"*": "generic"} if "generic" in names else {}
    for name in names:
        for host in getattr(loader.load(name), "hosts", ()) or ():
            profiles[host] = name
    return profiles


class Daemon:
    """Tick until told to stop."""

    def __init__(self, runner: AsyncCrawlerRunner, settings: BaseSettings, once: bool) -> None:
        config = DaemonConfig.from_settings(settings)
        sessions = open_store(settings.get("WATCHDESK_DB") or None)
        self.runner = runner
        self.once = once
        self.worker = Worker(runner, sessions, config, discovery_profiles(settings))
        self.stopping: asyncio.Event | None = None
        self.stopper: asyncio.Future[object] | None = None
        self.signum: int | None = None

    async def run(self) -> int:
        """Tick (once, or every WATCHDESK_TICK_SECONDS until a signal); return the exit code."""
        self.stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signum)
        logger.info(
            "daemon %s started: tick %gs, reports in %s",
            self.worker.owner,
            self.worker.config.tick,
            self.worker.config.reports,
        )
        keeper = asyncio.ensure_future(self.worker.keep_alive_forever())
        try:
            if self.once:
                await self._once()
            else:
                await self._tick_until_stopped()
        finally:
            keeper.cancel()
        await self._wind_down()
        logger.info("daemon %s stopped", self.worker.owner)
        return 128 + self.signum if self.signum else 0

    async def _tick_until_stopped(self) -> None:
        assert self.stopping is not None
        tick = self.worker.config.tick
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        scheduler.add_job(
            self.worker.tick,
            "interval",
            seconds=tick,
            id="tick",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(int(tick), 1),
        )
        scheduler.start()
        try:
            await self.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)

    async def _once(self) -> None:
        """One tick, then wait for its crawls (or for a signal)."""
        assert self.stopping is not None
        await self.worker.tick()
        drained = asyncio.ensure_future(self.worker.drain())
        stopped = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait([drained, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()

    def request_stop(self, signum: int) -> None:
        """Signal handler: no new work from now on."""
        logger.info("received %s: stopping", signal.Signals(signum).name)
        self.signum = self.signum or signum
        self.worker.stopped = True
        if self.stopping is not None:
            self.stopping.set()

    async def _wind_down(self) -> None:
        """Interrupt running crawls (after a signal), let host jobs end, give leases back."""
        if self.worker.stopped:
            self.stopper = stop_crawls(self.runner)  # also: no host job starts another crawl
        try:
            await asyncio.wait_for(self.worker.drain(), timeout=STOP_GRACE)
        except TimeoutError:
            logger.warning("crawls did not stop within %gs; leaving them", STOP_GRACE)
        self.worker.release()


#: Libraries whose INFO lines would bury the daemon's own (Scrapy logs ~40 lines per crawl).
CHATTY = ("scrapy", "alembic", "apscheduler", "py.warnings")


async def main(
    runner: AsyncCrawlerRunner,
    settings: BaseSettings,
    once: bool = False,
    chatter: int = logging.WARNING,
) -> int:
    """The daemon as a `run_crawls` main: returns the process exit code.

    Args:
        runner: the runner from `run_crawls`.
        settings: the project settings (WATCHDESK_* included).
        once: one tick, wait for its crawls, return.
        chatter: log level of Scrapy, Alembic and APScheduler (set here, after Scrapy has
            configured logging, which resets them).
    """
    for name in CHATTY:
        logging.getLogger(name).setLevel(chatter)
    return await Daemon(runner, settings, once).run()
