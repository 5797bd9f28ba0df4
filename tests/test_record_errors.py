"""`watchdesk crawl` exits non-zero when checks could not be recorded.

A database trigger (real SQLite and real PostgreSQL, no mock) refuses the fetch row of one
page; the real crawl against a replay server on 127.0.0.1 then records the other pages, says
how many checks were lost, exits 1, and leaves the refused page unleased and due, so the next
crawl checks it again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from storage.models import Fetch, Page
from tests.helpers import run_cli, write_card
from tests.test_crawl import FAST, article_pages

pytestmark = pytest.mark.slow

REFUSED = "https://r.example/news/1"


def refuse_fetch_rows(db: str, page_id: int) -> None:
    """Make the store refuse every fetch row of one page, as a full disk or a broken
    constraint would."""
    engine = create_engine(db)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    f'CREATE TRIGGER refuse_fetch BEFORE INSERT ON "fetch" '
                    f"WHEN NEW.page_id = {page_id} "
                    f"BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_fetch() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.page_id = {page_id} THEN "
                    "RAISE EXCEPTION 'refused by the test trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    'CREATE TRIGGER refuse_fetch BEFORE INSERT ON "fetch" '
                    "FOR EACH ROW EXECUTE FUNCTION refuse_fetch()"
                )
            )
    engine.dispose()


def test_crawl_exits_non_zero_when_a_check_is_not_recorded(db_url: str, tmp_path: Path) -> None:
    bodies = article_pages()
    urls = {}
    for index in range(3):
        target = tmp_path / "root" / "state1" / "r.example" / "news" / f"{index}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bodies[index])
        urls[f"page{index}"] = f"https://r.example/news/{index}"
    added = run_cli("event", "add", str(write_card(tmp_path / "card.yaml", urls)), db=db_url)
    assert added.returncode == 0, added.stderr
    engine = create_engine(db_url)
    with Session(engine) as session:
        refused_id = session.scalar(select(Page.id).where(Page.url == REFUSED))
    assert refused_id is not None
    refuse_fetch_rows(db_url, refused_id)

    with ReplayServer(tmp_path / "root") as server:
        env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        result = run_cli("crawl", "--event", "crawl-cases", *FAST, db=db_url, env=env)

    assert result.returncode == 1, result.stderr[-3000:]
    assert "1 check(s) could not be recorded" in result.stderr
    with Session(engine) as session:
        recorded = session.scalars(select(Fetch.page_id)).all()
        assert sorted(recorded) == sorted(
            session.scalars(select(Page.id).where(Page.id != refused_id)).all()
        )
        refused = session.get_one(Page, refused_id)
        assert refused.lease_owner is None and refused.last_checked_at is None
        held = session.scalar(select(func.count(Page.id)).where(Page.lease_owner.is_not(None)))
        assert held == 0
    engine.dispose()
