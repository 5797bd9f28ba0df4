"""The store on SQLite and PostgreSQL: events, pages, leases, versions, checks.

Every test here runs once per backend (the `db_url` fixture).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.cards.model import card_digest
from crawler.cards.parse import parse_card
from crawler.extract.article import ArticleText
from crawler.items import FetchedPage
from storage.checks import record_check, record_checks
from storage.db import is_current
from storage.models import Change, Event, Fetch, Page, Source, Version, WatchItem
from storage.repositories import (
    add_version,
    article_of,
    claim_pages,
    latest_version,
    release_pages,
    select_pages,
    upsert_event,
)

CARDS = Path(__file__).parent / "fixtures" / "cards"
SEED = CARDS / "paraguay-pena-taiwan-2026.md"
SEED_V2 = CARDS / "paraguay-pena-taiwan-2026-v2.md"


def add_card(sessions: sessionmaker[Session], path: Path):
    text = path.read_text(encoding="utf-8")
    card = parse_card(text, name=path.name)
    with sessions.begin() as session:
        return upsert_event(session, card, card_digest(card), text)


def test_schema_is_migrated(sessions: sessionmaker[Session]) -> None:
    engine = sessions.kw["bind"]
    assert is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"event", "watch_item", "page", "source", "fetch", "version", "change"} <= tables


def test_quick_schema_check_agrees_with_alembic(db_url: str) -> None:
    """`upgrade` skips Alembic only when the stored revision is the files' head."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from storage import db

    engine = db.make_engine(db_url)
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert db._migration_head() == head
    assert db._stored_revision(engine) is None  # empty database: no alembic_version table
    db.upgrade(engine)  # goes through Alembic and creates the schema
    assert db._stored_revision(engine) == head and is_current(engine)
    with engine.begin() as connection:  # a database one migration behind (or unknown)
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert db._stored_revision(engine) == "older" and not is_current(engine)
    engine.dispose()


def test_event_add_is_idempotent(sessions: sessionmaker[Session]) -> None:
    first = add_card(sessions, SEED)
    assert first.created and len(first.sources_added) == 7 and first.items_added == [1, 2, 3, 4]
    again = add_card(sessions, SEED)
    assert again.unchanged
    with sessions() as session:
        assert session.scalar(select(func.count(Page.id))) == 7
        assert session.scalar(select(func.count(Source.id))) == 7
        assert session.scalar(select(func.count(WatchItem.id))) == 4


def test_changed_card_adds_and_retires(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    delta = add_card(sessions, SEED_V2)
    assert not delta.unchanged
    assert delta.sources_added and delta.sources_retired
    assert delta.items_added or delta.items_changed
    with sessions() as session:
        event = session.scalar(select(Event))
        active = [s.page.url for s in event.sources if s.active]
        retired = [s.page.url for s in event.sources if not s.active]
        assert set(retired) == set(delta.sources_retired)
        assert set(delta.sources_added) <= set(active)
        # Pages are never deleted: a retired citation keeps its history.
        assert session.scalar(select(func.count(Page.id))) == 7 + len(delta.sources_added)


def test_select_pages_by_event_and_outlet(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    with sessions() as session:
        by_event = list(session.scalars(select_pages(event_slug="paraguay-pena-taiwan-2026")))
        assert len(by_event) == 7
        abc = list(session.scalars(select_pages(outlet="ABC Color")))
        assert len(abc) == 2 and all("abc.com.py" in p.url for p in abc)
        one = list(
            session.scalars(select_pages(urls=["https://focustaiwan.tw/politics/202605100007"]))
        )
        assert [p.host for p in one] == ["focustaiwan.tw"]


def test_leases_keep_two_workers_apart(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    with sessions.begin() as session:
        ids = list(session.scalars(select(Page.id)))
        mine = claim_pages(session, ids[:5], "worker-a", timedelta(minutes=5))
    with sessions.begin() as session:
        theirs = claim_pages(session, ids, "worker-b", timedelta(minutes=5))
    assert sorted(mine) == sorted(ids[:5])
    assert sorted(theirs) == sorted(ids[5:])
    with sessions.begin() as session:
        release_pages(session, "worker-a")
        again = claim_pages(session, ids, "worker-b", timedelta(minutes=5))
    assert sorted(again) == sorted(ids)


def test_expired_lease_can_be_taken_over(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    with sessions.begin() as session:
        ids = list(session.scalars(select(Page.id)))
        claim_pages(session, ids, "dead-worker", timedelta(seconds=-1))
        assert sorted(claim_pages(session, ids, "worker-b", timedelta(minutes=5))) == sorted(ids)


def _article(*paragraphs: str, title: str = "Peña visits Taiwan") -> ArticleText:
    return ArticleText(
        title=title,
        paragraphs=paragraphs,
        headlines={"h1": title},
        byline="AP",
        published="2026-05-07T10:00:00+00:00",
        language="en",
    )


def test_version_round_trip_and_utc(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    seen = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)
    article = _article("First paragraph.", "Second paragraph, with “quotes” — and 40 delegates.")
    with sessions.begin() as session:
        page = session.scalars(select(Page)).first()
        add_version(
            session,
            page,
            article,
            fingerprint="f" * 64,
            text_hash="t" * 64,
            body=b"<html/>",
            body_hash="b" * 64,
            final_url=page.url,
            extractor="trafilatura",
            extractor_version="2.3.1+wd1",
            seen_at=seen,
        )
        page_id = page.id
    with sessions() as session:
        stored = latest_version(session, page_id)
        assert stored is not None and stored.number == 1
        assert stored.seen_at == seen and stored.seen_at.tzinfo is not None
        assert article_of(stored) == article


def _fetched(
    page: Page, status: int | None, article: ArticleText | None, body: bytes | None, **extra
) -> FetchedPage:
    return FetchedPage(
        page_id=page.id,
        url=page.url,
        started_at=datetime.now(UTC),
        duration_ms=5.0,
        status=status,
        final_url=page.url,
        content_type="text/html; charset=utf-8",
        body=body,
        body_hash=None if body is None else hashlib.sha256(body).hexdigest(),
        article=article,
        **extra,
    )


def test_recheck_of_same_article_adds_a_fetch_not_a_version(
    sessions: sessionmaker[Session],
) -> None:
    add_card(sessions, SEED)
    article = _article("Peña met Lai in Taipei.", "Three agreements were signed.")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        page = session.scalars(select(Page)).first()
        record_check(session, _fetched(page, 200, article, b"<p>1</p>"), now=now)
        record_check(session, _fetched(page, 200, article, b"<p>1 re-rendered</p>"), now=now)
        record_check(session, _fetched(page, 304, None, None), now=now)
        page_id = page.id
    with sessions() as session:
        assert session.scalar(select(func.count(Version.id)).where(Version.page_id == page_id)) == 1
        outcomes = list(
            session.scalars(
                select(Fetch.outcome).where(Fetch.page_id == page_id).order_by(Fetch.id)
            )
        )
        assert outcomes == ["new_version", "unchanged", "not_modified"]
        assert session.scalar(select(func.count(Change.id))) == 0


def test_a_batch_numbers_links_and_schedules_its_versions(
    sessions: sessionmaker[Session],
) -> None:
    """`record_checks` reads a batch's latest versions and histories up front and writes the
    versions at one flush: numbers, fetch rows, changes and schedules must come out as if
    each check were recorded alone, also for a page checked twice in one batch."""
    add_card(sessions, SEED)
    first = _article("Peña met Lai in Taipei.", "More than 40 business delegates came.")
    edit = _article("Peña met Lai in Taipei.", "More than 50 business delegates came.")
    now = datetime.now(UTC)
    with sessions.begin() as session, session.no_autoflush:
        p0, p1, p2 = session.scalars(select(Page).order_by(Page.id)).all()[:3]
        ids = (p0.id, p1.id, p2.id)
        record_checks(
            session,
            [_fetched(p0, 200, first, b"<p>0</p>"), _fetched(p1, 200, first, b"<p>1</p>")],
            now=now,
        )
    later = now + timedelta(days=1)
    with sessions.begin() as session, session.no_autoflush:
        pages = {page.id: page for page in session.scalars(select(Page))}
        p0, p1, p2 = (pages[i] for i in ids)
        batch = [
            _fetched(p0, 200, edit, b"<p>0 edited</p>"),
            _fetched(p1, 304, None, None),
            _fetched(p2, 200, first, b"<p>2</p>"),
            _fetched(p2, 200, edit, b"<p>2 edited</p>"),
        ]
        results = record_checks(session, batch, now=later)
        assert [r.outcome.value for r in results] == [
            "new_version", "not_modified", "new_version", "new_version",
        ]  # fmt: skip
    with sessions() as session:
        numbers = session.execute(
            select(Version.page_id, Version.number).order_by(Version.page_id, Version.number)
        ).all()
        assert [tuple(row) for row in numbers] == [
            (ids[0], 1), (ids[0], 2), (ids[1], 1), (ids[2], 1), (ids[2], 2),
        ]  # fmt: skip
        for fetch in session.scalars(select(Fetch).where(Fetch.outcome == "new_version")):
            version = session.get_one(Version, fetch.version_id)
            assert version.page_id == fetch.page_id
        changes = session.scalars(select(Change).order_by(Change.page_id)).all()
        assert [change.page_id for change in changes] == [ids[0], ids[2]]
        for change in changes:
            before = session.get_one(Version, change.from_version_id)
            after = session.get_one(Version, change.to_version_id)
            assert (before.page_id, before.number) == (change.page_id, 1)
            assert (after.page_id, after.number) == (change.page_id, 2)
        for page_id in ids:
            page = session.get_one(Page, page_id)
            assert page.next_check_at is not None and page.next_check_at > page.last_checked_at
        changed = [session.get_one(Page, page_id).last_changed_at for page_id in ids]
        assert changed[1] < changed[0] == changed[2]  # the 304 changed nothing


def test_transient_failure_keeps_the_baseline(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    article = _article("Peña met Lai in Taipei.", "Three agreements were signed.")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        page = session.scalars(select(Page)).first()
        record_check(session, _fetched(page, 200, article, b"<p>1</p>"), now=now)
        record_check(session, _fetched(page, 503, None, None), now=now)
        record_check(session, _fetched(page, None, None, None, error="TimeoutError"), now=now)
        page_id = page.id
    with sessions() as session:
        page = session.get(Page, page_id)
        assert page.state == "failing" and page.consecutive_failures == 2
        assert session.scalar(select(func.count(Version.id))) == 1
        assert session.scalar(select(func.count(Change.id))) == 0


def test_edit_then_removal_makes_changes(sessions: sessionmaker[Session]) -> None:
    add_card(sessions, SEED)
    before = _article("Peña met Lai in Taipei.", "More than 40 business delegates came.")
    after = _article(
        "Peña met Lai in Taipei.",
        "More than 50 business delegates came.",
        "China called Paraguay a pawn of Taiwan.",
    )
    now = datetime.now(UTC)
    with sessions.begin() as session:
        page = session.scalars(select(Page)).first()
        record_check(session, _fetched(page, 200, before, b"<p>1</p>"), now=now)
        record_check(session, _fetched(page, 200, after, b"<p>2</p>"), now=now)
        record_check(session, _fetched(page, 404, None, None), now=now)
        # The confirming check must come WATCHDESK_CONFIRM_AFTER (an hour) after the first.
        record_check(session, _fetched(page, 404, None, None), now=now + timedelta(minutes=10))
        assert page.state == "gone_pending"
        record_check(session, _fetched(page, 404, None, None), now=now + timedelta(hours=1))
        page_id = page.id
    with sessions() as session:
        changes = list(
            session.scalars(select(Change).where(Change.page_id == page_id).order_by(Change.id))
        )
        assert [c.kind for c in changes] == ["edit", "removed"]
        assert changes[0].significant and changes[1].significant
        assert session.get(Page, page_id).state == "removed"


def test_revert_is_a_version_and_the_baseline_again(sessions: sessionmaker[Session]) -> None:
    """A -> B -> A: the return to A is stored as a new version of kind `reverted`, reported
    because it undoes a reported edit, and the next check is compared with it."""
    add_card(sessions, SEED)
    a = _article("Peña met Lai in Taipei.", "More than 40 business delegates came.")
    b = _article("Peña met Lai in Taipei.", "More than 50 business delegates came.")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        page = session.scalars(select(Page)).first()
        for article, body in ((a, b"<p>a</p>"), (b, b"<p>b</p>"), (a, b"<p>a again</p>")):
            record_check(session, _fetched(page, 200, article, body), now=now)
        # The same bytes once more: the spider saw them last time and skipped extraction.
        again = _fetched(page, 200, None, b"<p>a again</p>", same_body=True)
        record_check(session, again, now=now)
        page_id = page.id
    with sessions() as session:
        assert session.scalar(select(func.count(Version.id)).where(Version.page_id == page_id)) == 3
        changes = list(session.scalars(select(Change).where(Change.page_id == page_id)))
        assert [(c.kind, c.significant) for c in changes] == [("edit", True), ("reverted", True)]
        outcomes = list(
            session.scalars(
                select(Fetch.outcome).where(Fetch.page_id == page_id).order_by(Fetch.id)
            )
        )
        assert outcomes == ["new_version", "new_version", "new_version", "unchanged"]
