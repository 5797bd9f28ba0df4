"""Politeness without idling: only requests whose host may send now reach the downloader.

The crawl test runs `watchdesk crawl` against the replay server with the per-host delay on
and checks the order the server saw, not how long it took.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from scrapy.core.downloader import Slot

from bench.recheck import register
from crawler.demo.replay import ReplayServer
from crawler.politeness import wait_before_sending
from tests.helpers import run_cli

HOSTS, PER_HOST = 6, 3


def test_a_host_without_a_slot_may_send_until_its_first_burst_is_out() -> None:
    assert wait_before_sending(None, 0, 100.0, first_burst=1) == 0.0
    assert wait_before_sending(None, 1, 100.0, first_burst=1) is None
    assert wait_before_sending(None, 1, 100.0, first_burst=2) == 0.0


def test_a_delayed_host_waits_out_the_top_of_its_jitter_range() -> None:
    slot = Slot(concurrency=2, delay=1.0, jitter=0.5)
    slot.lastseen = 100.0
    assert wait_before_sending(slot, 0, 100.5, first_burst=1) == pytest.approx(1.0)
    assert wait_before_sending(slot, 0, 101.6, first_burst=1) == 0.0


def test_a_delayed_host_sends_one_at_a_time_and_never_queues_in_the_downloader() -> None:
    slot = Slot(concurrency=2, delay=1.0, jitter=0.0)
    slot.lastseen = 100.0
    slot.transferring.add(object())
    assert wait_before_sending(slot, 1, 102.0, first_burst=1) == 0.0  # one transferring: fine
    assert wait_before_sending(slot, 2, 102.0, first_burst=1) is None  # one already waits


def test_without_delay_a_host_fills_its_concurrency() -> None:
    slot = Slot(concurrency=2, delay=0.0, jitter=0.0)
    assert wait_before_sending(slot, 1, 0.0, first_burst=2) == 0.0
    assert wait_before_sending(slot, 2, 0.0, first_burst=2) is None


@pytest.mark.slow
def test_every_host_starts_before_any_host_gets_its_third_page(
    tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "root" / "state1"
    urls = []
    for h in range(HOSTS):  # listed host by host, as a card lists them
        for i in range(PER_HOST):
            page = root / f"h{h}.example" / "news" / f"{i}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            text = f"Story {h}-{i} has a paragraph long enough to count as the article. " * 4
            page.write_text(f"<html><body><h1>Story {h}-{i}</h1><p>{text}</p></body></html>")
            urls.append(f"https://h{h}.example/news/{i}")
    routes = {f"h{h}.example/*": {"delay": 0.1} for h in range(HOSTS)}
    (root / "routes.yaml").write_text(yaml.safe_dump(routes))
    register(sqlite_url, urls)
    with ReplayServer(tmp_path / "root", state="state1") as server:
        flags = ["DOWNLOAD_DELAY=1", "DOWNLOAD_DELAY_JITTER=0", "AUTOTHROTTLE_ENABLED=False"]
        flags += ["CONCURRENT_REQUESTS=2", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
        result = run_cli(
            "crawl",
            "--outlet",
            "bench",
            *(f"-s{flag}" for flag in flags),
            db=sqlite_url,
            env={"WATCHDESK_HOST_MAP": json.dumps(server.host_map())},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        pages = [e["host"] for e in server.log if e["path"].startswith("/news/")]
    assert len(pages) == HOSTS * PER_HOST
    # Breadth first: the first HOSTS requests go to HOSTS different hosts (a scheduler that
    # hands out a host's next page while it waits out its delay sends h0, h0, h0 first).
    assert len(set(pages[:HOSTS])) == HOSTS
    # And no host's third page before every host has had its second.
    third = min(i for i, host in enumerate(pages) if pages[: i + 1].count(host) == 3)
    assert all(pages[:third].count(f"h{h}.example") >= 2 for h in range(HOSTS))
