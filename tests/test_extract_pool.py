"""Extraction in worker processes: same results as in-process, and a killed worker recovers.

The pool tests use real spawned processes and a real SIGKILL; the crawl tests run
`watchdesk crawl` in a subprocess against the replay server and kill one of its extraction
workers mid-crawl.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from crawler.extract.extraction import extract_page
from crawler.extract.pool import ExtractionPool
from storage.models import Page, Run, Version
from tests.helpers import FIXTURES, ROOT, run_cli, spawned_workers

#: Real article pages of four outlets (tests/fixtures/pages/PROVENANCE.md).
PAGES = [
    FIXTURES / "pages" / name
    for name in (
        "cna/cna-001.html.gz",
        "hoy/hoy.com-daran.html.gz",
        "taipeitimes/TaipeiTimes_2024_10_15.html.gz",
        "washingtonpost/2024-04-26_tornadoes-central-us.fundus.html.gz",
    )
]


def bodies() -> list[bytes]:
    return [gzip.decompress(path.read_bytes()) for path in PAGES]


async def extract_all(pool: ExtractionPool, pages: list[bytes]) -> list:
    return await asyncio.gather(
        *(
            pool.extract(body, 200, f"https://a.example/{i}", "text/html")
            for i, body in enumerate(pages)
        )
    )


def test_pool_gives_the_in_process_results() -> None:
    pages = bodies()
    pool = ExtractionPool(2)
    try:
        found = asyncio.run(extract_all(pool, pages))
    finally:
        pool.close()
    expected = [
        extract_page(body, 200, f"https://a.example/{i}", "text/html")
        for i, body in enumerate(pages)
    ]
    assert found == expected
    assert all(result.article and result.article.paragraphs for result in found)


def test_a_killed_worker_is_replaced_and_its_pages_retried() -> None:
    pages = bodies()
    pool = ExtractionPool(2)

    async def scenario() -> list:
        await extract_all(pool, pages[:1])  # warm: both workers exist
        pending = asyncio.ensure_future(extract_all(pool, pages))
        await asyncio.sleep(0.05)  # some pages are in a worker now
        os.kill(pool.pids()[0], signal.SIGKILL)
        return await pending

    try:
        found = asyncio.run(scenario())
        assert pool.replacements == 1
        assert len(pool.pids()) == 2
    finally:
        pool.close()
    assert [r.article.paragraphs for r in found] == [
        extract_page(body, 200, f"https://a.example/{i}", "text/html").article.paragraphs
        for i, body in enumerate(pages)
    ]


# --- real crawls ----------------------------------------------------------------------------


def build_site(root: Path, copies: int) -> dict[str, str]:
    """`copies` URLs per fixture page on two hosts, the second slow (1 s a page)."""
    urls = {}
    for index, body in enumerate(bodies() * copies):
        host = "slow.example" if index % 2 else "fast.example"
        target = root / "state1" / host / "news" / f"{index}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        urls[f"page {index}"] = f"https://{host}/news/{index}"
    (root / "state1" / "routes.yaml").write_text(yaml.safe_dump({"slow.example/*": {"delay": 1}}))
    return urls


def add_event(tmp_path: Path, urls: dict[str, str], db: str) -> None:
    card = {
        "slug": "pool-cases",
        "title": "Pool cases",
        "summary": "Pages extracted in worker processes.",
        "watch": ["Whether anything happens."],
        "sources": [{"outlet": name, "url": url, "language": "en"} for name, url in urls.items()],
    }
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card), encoding="utf-8")
    added = run_cli("event", "add", str(path), db=db)
    assert added.returncode == 0, added.stderr


def count(db: str, query) -> int:
    engine = create_engine(db)
    with Session(engine) as session:
        value = session.scalar(query)
    engine.dispose()
    return int(value or 0)


@pytest.mark.slow
def test_crawl_versions_equal_in_process_extraction_after_a_worker_is_killed(
    tmp_path: Path, sqlite_url: str
) -> None:
    urls = build_site(tmp_path / "root", copies=2)
    add_event(tmp_path, urls, sqlite_url)
    with ReplayServer(tmp_path / "root", state="state1") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")} | {
            "WATCHDESK_HOST_MAP": json.dumps(server.host_map())
        }
        argv = [sys.executable, "-m", "crawler", "--db", sqlite_url, "crawl", "--event"]
        argv += ["pool-cases", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
        argv += ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "WATCHDESK_EXTRACT_WORKERS=2"]
        crawl = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        # Mid-crawl: the first versions are stored, the slow host's pages are still coming.
        while count(sqlite_url, select(func.count(Version.id))) == 0:
            assert crawl.poll() is None and time.monotonic() < deadline, "crawl ended early"
            time.sleep(0.1)
        workers = spawned_workers(crawl.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = crawl.communicate(timeout=120)
        assert crawl.returncode == 0, stderr[-3000:]
    assert count(sqlite_url, select(func.count(Version.id))) == len(urls)
    stats = count(sqlite_url, select(func.count(Run.id)))
    assert stats == 1
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        run = session.scalars(select(Run)).one()
        assert run.stats.get("watchdesk/extract/pool_replaced") == 1
        assert "watchdesk/extract/failed" not in run.stats
        for page in session.scalars(select(Page)):
            version = session.scalars(select(Version).where(Version.page_id == page.id)).one()
            index = int(page.url.rsplit("/", 1)[1])
            body = bodies()[index % len(PAGES)]
            expected = extract_page(body, 200, page.url, "text/html; charset=utf-8").article
            assert (version.title, tuple(version.paragraphs)) == (
                expected.title,
                expected.paragraphs,
            )
            assert page.lease_owner is None
    engine.dispose()
