"""`watchdesk worker` discovers the outlets that are due, one worker per outlet (issue 12).

Two real `watchdesk worker --once` processes share one PostgreSQL store and a local replay
of two outlets whose home page announces a feed listing a new article. Each worker sends its
own User-Agent (tests/fleet.py), so the server's log says who asked for which endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.demo.replay import ReplayServer
from storage.db import open_store
from storage.models import Fetch, Page
from storage.repositories import utcnow
from tests import fleet

PAGES, HOSTS = 4, 2
HOME = """<!DOCTYPE html><html><head><title>{host}</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
<body><h1>{host}</h1></body></html>
"""
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>{host}</title>
<link>https://{host}/</link><item><title>Story new on {host}</title>
<link>https://{host}/news/new</link><pubDate>{date}</pubDate></item></channel></rss>
"""


def build_site(root: Path) -> None:
    """The fleet pages, plus for each host a home page, its feed and the new article."""
    fleet.build_site(root, PAGES, HOSTS, latency=0.05)
    date = format_datetime(utcnow())
    for h in range(HOSTS):
        host = fleet.host_name(h)
        site = root / "state1" / host
        (site / "index.html").write_text(HOME.format(host=host), encoding="utf-8")
        (site / "feed.xml").write_text(FEED.format(host=host, date=date), encoding="utf-8")
        article = fleet.PAGE.format(i=100 + h, j=3, host=host)
        (site / "news" / "new.html").write_text(article, encoding="utf-8")


@pytest.mark.slow
def test_two_workers_discover_each_outlet_once(tmp_path: Path, pg_schema) -> None:
    db = pg_schema()
    build_site(tmp_path / "root")
    fleet.add_event(tmp_path, db, "worker-discovery", PAGES, HOSTS)
    with ReplayServer(tmp_path / "root") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
        env["WATCHDESK_HOST_MAP"] = json.dumps(server.host_map())
        minutes = ("-s", "WATCHDESK_DISCOVERY_MINUTES=10")
        workers = [
            subprocess.Popen(
                fleet.worker_argv(db, *minutes, index=index),
                cwd=fleet.ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for index in range(2)
        ]
        outputs = [w.communicate(timeout=120)[0].decode(errors="replace") for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
        log = list(server.log)

    # Each outlet's discovery endpoints were asked for once, by one worker.
    for path in ("/", "/feed.xml", "/news/new"):
        asked = Counter((e["host"], e["user_agent"]) for e in log if e["path"] == path)
        hosts = Counter(host for host, _agent in asked.elements())
        assert hosts == {fleet.host_name(h): 1 for h in range(HOSTS)}, (path, asked)

    # The discovered article is stored once per outlet, as a discovered page with one fetch.
    with open_store(db).begin() as session:
        for h in range(HOSTS):
            url = f"https://{fleet.host_name(h)}/news/new"
            pages = session.scalars(select(Page).where(Page.url == url)).all()
            assert [p.origin for p in pages] == ["discovered"], url
            fetches = session.scalar(
                select(func.count(Fetch.id)).where(Fetch.page_id == pages[0].id)
            )
            assert fetches == 1, url
    homes = Counter(e["user_agent"] for e in log if e["path"] == "/")
    print(f"\nhome pages asked for, by worker: {dict(homes)}")
