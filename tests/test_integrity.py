"""A bad page never becomes the baseline (issue 10): real crawls against the fault web.

One `watchdesk crawl` per state of `tests/faults.py` (s1 good, s2 the faults, s3, s4), on
SQLite and on PostgreSQL, with WATCHDESK_CONFIRM_AFTER=0 (back-to-back confirmation, as
replays need) and WATCHDESK_UNCONDITIONAL_AFTER=0; each test then reads one fault's record.
`test_confirmations_wait_confirm_after` crawls again with the default spacing of an hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from storage.models import Change, Fetch, Page, Version
from tests.conftest import backend_url
from tests.faults import EDIT_SENTENCE, SECOND_EDIT, STATES, build_faults
from tests.helpers import run_cli, write_card

FAST = [
    *("-s", "WATCHDESK_RETRY_BACKOFF_BASE=0.05", "-s", "WATCHDESK_RETRY_BACKOFF_MAX=0.2"),
    *("-s", "DOWNLOAD_TIMEOUT=5", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"),
]
BACK_TO_BACK = ["-s", "WATCHDESK_CONFIRM_AFTER=0", "-s", "WATCHDESK_UNCONDITIONAL_AFTER=0"]
#: The good page back: the same article, or a 304 to the baseline's validators.
BACK = ("unchanged", "not_modified")
#: What an older release recorded as the extraction version (trafilatura + our rules).
OLD_EXTRACTOR = "2.0.0+wd1"


@dataclass
class Record:
    """One watched page after the four crawls."""

    outcomes: list[str]
    changes: list[Change]
    versions: list[Version]
    page: Page
    errors: list[str | None]


def fault_card(path: Path, urls: dict[str, str]) -> Path:
    """The fault web's card: every page one outlet (one host, one breaker)."""
    return write_card(
        path, urls, slug="fault-web", summary="Pages that misbehave.", outlet="Fault web"
    )


def crawl(db: str, server: ReplayServer, *extra: str) -> None:
    env = {"WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
    result = run_cli("crawl", *FAST, *extra, db=db, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def read_records(db: str, urls: dict[str, str]) -> dict[str, Record]:
    engine = create_engine(db)
    records = {}
    with Session(engine, expire_on_commit=False) as session:
        for name, url in urls.items():
            page = session.scalars(select(Page).where(Page.url == url)).one()
            fetches = list(
                session.scalars(select(Fetch).where(Fetch.page_id == page.id).order_by(Fetch.id))
            )
            records[name] = Record(
                outcomes=[f.outcome for f in fetches],
                errors=[f.error for f in fetches],
                changes=list(
                    session.scalars(
                        select(Change).where(Change.page_id == page.id).order_by(Change.id)
                    )
                ),
                versions=list(
                    session.scalars(
                        select(Version).where(Version.page_id == page.id).order_by(Version.number)
                    )
                ),
                page=page,
            )
    engine.dispose()
    return records


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_reason: str | None
) -> Iterator[str]:
    """One store per backend for the whole module (the four crawls run once per backend)."""
    yield from backend_url(request.param, tmp_path_factory.mktemp("integrity"), pg_reason)


@pytest.fixture(scope="module")
def records(store: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Record]:
    """Add the card, crawl s1 .. s4, return every fault's record."""
    root = tmp_path_factory.mktemp("faults")
    found = build_faults(root / "web")
    urls = {name: fault.url for name, fault in found.items()}
    added = run_cli("event", "add", str(fault_card(root / "card.yaml", urls)), db=store)
    assert added.returncode == 0, added.stderr
    with ReplayServer(root / "web", state="s1") as server:
        for state in STATES:
            server.set_state(state)
            crawl(store, server, "--event", "fault-web", *BACK_TO_BACK)
            if state == "s1":
                _mark_old_extractor(store, urls["rebaseline"])
    return read_records(store, urls)


def _mark_old_extractor(db: str, url: str) -> None:
    """The baseline of `url` as an older trafilatura / older watchdesk rules made it."""
    engine = create_engine(db)
    with engine.begin() as connection:
        page_id = connection.scalar(select(Page.id).where(Page.url == url))
        connection.execute(
            update(Version)
            .where(Version.page_id == page_id)
            .values(extractor_version=OLD_EXTRACTOR)
        )
    engine.dispose()


def kinds(record: Record) -> list[tuple[str, bool]]:
    return [(change.kind, change.significant) for change in record.changes]


def assert_held_then_dropped(record: Record) -> None:
    """The bad page (s2) was held as suspect, the good page (s3) dropped it: no change, one
    version; the edit of s4 is diffed against the good baseline and adds one sentence."""
    assert record.outcomes[:2] == ["new_version", "suspect"]
    assert record.outcomes[2] in BACK  # a 304: the baseline's validators matched again
    assert record.page.suspect_fingerprint is None
    assert len(record.versions) == 2
    [edit] = record.changes
    assert edit.kind == "edit" and edit.significant
    assert list(edit.details["added"]) == [EDIT_SENTENCE]


def test_soft_error_page_is_held_and_the_next_edit_diffed_against_the_article(
    records: dict[str, Record],
) -> None:
    assert_held_then_dropped(records["soft_error"])
    assert "not an article page" in (records["soft_error"].errors[1] or "")


def test_body_cut_short_without_content_length_is_suspect(records: dict[str, Record]) -> None:
    record = records["cut_short"]
    assert record.outcomes[:2] == ["new_version", "suspect"]
    assert record.outcomes[2] in BACK
    assert record.errors[1] == "HTML cut short"
    assert kinds(record) == [] and len(record.versions) == 1


def test_three_of_eight_paragraph_teaser_is_suspect(records: dict[str, Record]) -> None:
    record = records["teaser"]
    assert record.outcomes[:2] == ["new_version", "suspect"]
    assert record.outcomes[2] in BACK
    assert "collapsed" in (record.errors[1] or "")
    assert kinds(record) == [] and len(record.versions) == 1


@pytest.mark.parametrize("name", ["consent", "login"])
def test_consent_and_sign_in_pages_are_suspect(records: dict[str, Record], name: str) -> None:
    record = records[name]
    assert record.outcomes[:2] == ["new_version", "suspect"]
    assert record.outcomes[2] in BACK
    assert kinds(record) == [] and len(record.versions) == 1


def test_suspect_version_is_confirmed_by_a_later_check(records: dict[str, Record]) -> None:
    """A real trim served again on the next check (CONFIRM_AFTER=0) becomes the version."""
    record = records["trimmed"]
    assert record.outcomes == ["new_version", "suspect", "new_version", "not_modified"]
    assert kinds(record) == [("edit", True)]
    assert record.changes[0].detected_at == record.versions[1].seen_at  # the s3 check


def test_revert_is_a_version_reported_and_the_baseline_again(records: dict[str, Record]) -> None:
    record = records["revert"]
    assert record.outcomes == ["new_version"] * 4
    assert [v.fingerprint for v in record.versions][2] == record.versions[0].fingerprint
    assert kinds(record)[:2] == [("edit", True), ("reverted", True)]
    # The next edit is diffed against A again: only its own sentence is new.
    assert kinds(record)[2] == ("edit", True)
    assert list(record.changes[2].details["added"]) == [SECOND_EDIT]


def test_real_edit_is_still_reported(records: dict[str, Record]) -> None:
    assert kinds(records["edited"]) == [("edit", True)]


@pytest.mark.parametrize("name", ["to_home", "to_section"])
def test_redirect_to_home_or_section_front_is_a_removal(
    records: dict[str, Record], name: str
) -> None:
    record = records[name]
    assert record.outcomes[:3] == ["new_version", "gone_suspected", "removed"]
    assert kinds(record) == [("removed", True)]


@pytest.mark.parametrize("name", ["to_login", "to_subscribe", "to_consent", "to_other_host"])
def test_redirect_to_a_wall_or_another_site_is_transient(
    records: dict[str, Record], name: str
) -> None:
    record = records[name]
    assert record.outcomes == ["new_version", "transient", "transient", "transient"]
    assert kinds(record) == [] and record.page.state == "failing"


def test_moved_article_is_followed_not_removed(records: dict[str, Record]) -> None:
    record = records["moved"]
    assert record.outcomes[1:] == ["unchanged"] * 3
    assert kinds(record) == [] and record.page.state == "ok"
    assert record.page.redirected_to == "https://faults.example/moved-story/"


def test_stuck_etag_gets_an_unconditional_fetch(records: dict[str, Record]) -> None:
    record = records["stuck_etag"]
    # s2: the edit hides behind a 304; the next check asks without validators and sees it.
    assert record.outcomes[:3] == ["new_version", "not_modified", "new_version"]
    assert kinds(record) == [("edit", True)]


def test_extractor_upgrade_rebaselines_quietly(records: dict[str, Record]) -> None:
    record = records["rebaseline"]
    assert record.outcomes[1] == "new_version"
    assert kinds(record) == [("rebaselined", False)]
    assert record.versions[-1].extractor_version != OLD_EXTRACTOR


def test_decoding_change_alone_reports_nothing(records: dict[str, Record]) -> None:
    record = records["decoding"]
    assert record.outcomes[1] == "unchanged"
    assert kinds(record) == [] and len(record.versions) == 1
    assert "Darán" in (record.versions[0].title or "")


def test_confirmations_wait_confirm_after(db_url: str, tmp_path: Path) -> None:
    """With the default WATCHDESK_CONFIRM_AFTER (an hour), a second "gone" answer or the same
    suspect page a few seconds later confirms nothing."""
    found = build_faults(tmp_path / "web")
    urls = {name: found[name].url for name in ("to_home", "trimmed")}
    assert (
        run_cli("event", "add", str(fault_card(tmp_path / "card.yaml", urls)), db=db_url).returncode
        == 0
    )
    with ReplayServer(tmp_path / "web", state="s1") as server:
        for state in ("s1", "s2", "s3"):
            server.set_state(state)
            crawl(db_url, server, "--event", "fault-web")
    found_records = read_records(db_url, urls)
    home, trimmed = found_records["to_home"], found_records["trimmed"]
    assert home.outcomes == ["new_version", "gone_suspected", "gone_suspected"]
    assert home.page.state == "gone_pending" and kinds(home) == []
    assert trimmed.outcomes == ["new_version", "suspect", "suspect"]
    assert trimmed.page.suspect_fingerprint is not None and len(trimmed.versions) == 1
