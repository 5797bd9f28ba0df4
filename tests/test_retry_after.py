"""`Retry-After` beyond the retry cap defers the page instead of being cut to the cap.

The rule on plain values (parsing, the deferral), the middleware with a hand-made answer,
then real crawls against a replay server on 127.0.0.1, on SQLite and PostgreSQL: a page
that says "come back in two hours" is asked once, recorded as transient, and not due again
for two hours; a short Retry-After is still waited for and retried within the crawl.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml
from scrapy.http import Response
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from crawler.fetch.outcomes import retry_after_seconds
from scheduler.cadence import deferred
from storage.models import Fetch, Page, Version
from tests.helpers import run_cli, write_card
from tests.test_crawl import FAST, article_pages
from tests.test_middlewares import URL, backoff_middleware, request

NOW = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("Fri, 08 May 2026 14:00:00 GMT", 7200.0),
        ("Fri, 08 May 2026 11:00:00 GMT", 0.0),  # already past: no wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


def test_deferral_never_brings_a_check_forward() -> None:
    soon, later = NOW + timedelta(minutes=15), NOW + timedelta(days=2)
    assert deferred(soon, NOW, 7200) == NOW + timedelta(hours=2)
    assert deferred(later, NOW, 7200) == later
    assert deferred(soon, NOW, None) == soon


def test_retry_after_beyond_the_cap_is_not_retried_now() -> None:
    middleware = backoff_middleware()  # cap: WATCHDESK_RETRY_BACKOFF_MAX = 60 s
    response = Response(URL, status=429, headers={"Retry-After": "3600"})
    assert middleware.process_response(request(), response) is response


@pytest.mark.slow
def test_a_long_retry_after_defers_the_page(db_url: str, tmp_path: Path) -> None:
    in_three_hours = formatdate(time.time() + 3 * 3600, usegmt=True)
    routes = {
        "t.example/news/long": {"status": 429, "headers": {"Retry-After": "7200"}},
        "t.example/news/dated": {"status": 503, "headers": {"Retry-After": in_three_hours}},
        "t.example/news/short": {
            "status": 429,
            "fail_times": 1,
            "headers": {"Retry-After": "1"},
        },
    }
    bodies = article_pages()
    urls = {}
    for index, name in enumerate(("long", "dated", "short")):
        target = tmp_path / "root" / "state1" / "t.example" / "news" / f"{name}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bodies[index])
        urls[name] = f"https://t.example/news/{name}"
    (tmp_path / "root" / "state1" / "routes.yaml").write_text(yaml.safe_dump(routes))
    added = run_cli("event", "add", str(write_card(tmp_path / "card.yaml", urls)), db=db_url)
    assert added.returncode == 0, added.stderr

    started = datetime.now(UTC)
    with ReplayServer(tmp_path / "root") as server:
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        retries = ("-s", "RETRY_TIMES=2", "-s", "WATCHDESK_RETRY_BACKOFF_MAX=5")
        result = run_cli("crawl", "--event", "crawl-cases", *FAST, *retries, db=db_url, env=env)
        hits = {name: server.hits("t.example", f"/news/{name}") for name in urls}
    assert result.returncode == 0, result.stderr[-3000:]
    # Beyond the 5 s cap: asked once, not hammered; within it: waited for and retried.
    assert hits == {"long": 1, "dated": 1, "short": 2}

    engine = create_engine(db_url)
    with Session(engine) as session:
        pages = {p.url.rsplit("/", 1)[1]: p for p in session.scalars(select(Page))}
        for name, wait in (("long", timedelta(hours=2)), ("dated", timedelta(hours=3))):
            page = pages[name]
            fetch = session.scalars(select(Fetch).where(Fetch.page_id == page.id)).one()
            assert fetch.outcome == "transient"
            assert "Retry-After" in (fetch.error or "")
            assert page.state == "failing"  # transient: nothing said about the article
            assert page.next_check_at >= started + wait - timedelta(seconds=5), name
            assert session.scalar(select(Version.id).where(Version.page_id == page.id)) is None
        short = session.scalars(select(Fetch).where(Fetch.page_id == pages["short"].id)).one()
        assert short.outcome == "new_version"
    engine.dispose()
