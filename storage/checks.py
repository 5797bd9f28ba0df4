"""Record one check of a watched page: fetch row, maybe a version, maybe a change.

Everything for one page is written in the caller's single transaction, so a killed process
leaves either the whole check or none of it. The decisions come from pure functions
(`crawler.outcomes.decide`, `crawler.changes.classify`); this module only applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crawler.changes.classify import ChangeKind, Classification, classify, state_change
from crawler.changes.diffing import diff_versions
from crawler.extract.article import ArticleText

# Not crawler.extract.extraction: the recording thread never extracts, and trafilatura
# would cost the crawl's main process ~40 MiB (extraction runs in worker processes).
from crawler.extract.furniture import looks_truncated
from crawler.extract.identity import EXTRACTOR_NAME, EXTRACTOR_VERSION
from crawler.extract.normalise import fingerprint
from crawler.extract.normalise import text_hash as compute_text_hash
from crawler.fetch.outcomes import Decision, Observation, Outcome, PageMemory, PageState, decide
from crawler.items import FetchedPage
from scheduler.state import (
    history_from_rows,
    next_check_at,
    next_check_for,
    prefetch_histories,
)
from storage.models import Change, Fetch, Page, Version
from storage.repositories import add_version, article_of, latest_version, recent_versions


@dataclass(frozen=True)
class CheckResult:
    """What recording a check produced (for stats and the run summary)."""

    outcome: Outcome
    version: Version | None = None
    change: Change | None = None
    flap: bool = False
    reason: str = ""


def record_checks(
    session: Session, items: Sequence[FetchedPage], *, now: datetime, confirmations: int = 2
) -> list[CheckResult]:
    """Record a batch of checks in the caller's transaction, one result per item.

    The bulk of any recheck is a 304 from a healthy page: nothing to extract, compare or
    version. Those are written with two bulk statements (fetch rows, page updates) after the
    same decision `record_check` would take; everything else goes through `record_check`.
    """
    ids = [item.page_id for item in items]
    pages = {page.id: page for page in session.scalars(select(Page).where(Page.id.in_(ids)))}
    histories = prefetch_histories(session, ids)
    quiet, results = [], {}
    for item in items:
        if _is_quiet(item, pages[item.page_id], confirmations):
            quiet.append(item)
        else:
            results[id(item)] = record_check(session, item, now=now, confirmations=confirmations)
    _record_quiet(session, quiet, pages, histories, now)
    return [results.get(id(item), CheckResult(Outcome.NOT_MODIFIED)) for item in items]


def _is_quiet(item: FetchedPage, page: Page, confirmations: int) -> bool:
    """A 304 that leaves a healthy page exactly as it was (but for the check times)."""
    if item.status != 304 or item.final_url not in ("", item.url) or page.state != "ok":
        return False
    decision = decide(Observation(status=304), _memory(page), confirmations)
    return decision.outcome == Outcome.NOT_MODIFIED and decision.memory == _memory(page)


def _record_quiet(
    session: Session,
    items: list[FetchedPage],
    pages: dict[int, Page],
    histories: dict[int, list[Any]],
    now: datetime,
) -> None:
    if not items:
        return
    result = CheckResult(Outcome.NOT_MODIFIED)
    session.execute(insert(Fetch), [_fetch_values(item, result) for item in items])
    updates = [
        {
            "id": item.page_id,
            "last_status": 304,
            "last_checked_at": now,
            "lease_owner": None,
            "lease_until": None,
            "next_check_at": next_check_for(
                history_from_rows(histories[item.page_id], pages[item.page_id]), now
            ),
        }
        for item in items
    ]
    session.execute(update(Page), updates)


def record_check(
    session: Session, item: FetchedPage, *, now: datetime, confirmations: int = 2
) -> CheckResult:
    """Apply one fetched page to the store; the caller commits."""
    page = session.get_one(Page, item.page_id)
    latest = latest_version(session, page.id) if _needs_latest(item, page) else None
    previous = article_of(latest) if latest else None
    observation = _observe(item, latest, previous)
    decision = decide(observation, _memory(page), confirmations)
    result = _apply(session, page, item, latest, previous, decision, now)
    session.add(_fetch_row(item, result))
    _update_page(page, item, decision, result, now)
    return result


def _needs_latest(item: FetchedPage, page: Page) -> bool:
    """Whether the latest version matters: not for a 304 or a failure on a live page, the
    bulk of every recheck (no version is loaded, compared or written then)."""
    if page.state == PageState.REMOVED:
        return True  # a 304 or the same article now means "restored", which names it
    if item.status == 304 or item.error or item.status is None:
        return False
    return not (item.status >= 500 or item.status in (403, 408, 429))


def _observe(
    item: FetchedPage, latest: Version | None, previous: ArticleText | None
) -> Observation:
    article = item.article
    # Same bytes as the last check (`same_body`: nothing was extracted), as the latest
    # version, or the same article: nothing new. After a flap the last check's bytes may be
    # an older version's; what was decided then still holds.
    same = latest is not None and (
        item.same_body
        or item.body_hash == latest.body_hash
        or (article is not None and _fingerprint(item, article) == latest.fingerprint)
    )
    return Observation(
        status=item.status,
        error=item.error,
        requested_url=item.url,
        final_url=item.final_url or item.url,
        is_html=_is_html(item),
        challenge=item.challenge,
        truncated=bool(article and previous and looks_truncated(article, previous)),
        empty=item.status == 200 and not same and not (article and article.paragraphs),
        same_article=same,
    )


def _is_html(item: FetchedPage) -> bool:
    if item.status != 200:
        return True
    kind = item.content_type.split(";")[0].strip().lower()
    return kind in ("", "text/html", "application/xhtml+xml")


def _memory(page: Page) -> PageMemory:
    return PageMemory(
        state=PageState(page.state),
        consecutive_failures=page.consecutive_failures,
        consecutive_gone=page.consecutive_gone,
        has_version=page.last_changed_at is not None,
    )


def _apply(
    session: Session,
    page: Page,
    item: FetchedPage,
    latest: Version | None,
    previous: ArticleText | None,
    decision: Decision,
    now: datetime,
) -> CheckResult:
    outcome = decision.outcome
    if outcome in (Outcome.REMOVED, Outcome.RESTORED) and not decision.store_version:
        kind = ChangeKind.REMOVED if outcome == Outcome.REMOVED else ChangeKind.RESTORED
        after = None if kind == ChangeKind.REMOVED else latest
        classification = state_change(kind, page_title(latest))
        change = _add_change(session, page, latest, after, classification, None, now)
        return CheckResult(outcome, change=change, reason=decision.reason)
    if not decision.store_version or item.article is None or item.body is None:
        return CheckResult(outcome, reason=decision.reason)
    article = item.article
    flap = _is_flap(session, page, _fingerprint(item, article), latest)
    if flap:
        return CheckResult(Outcome.UNCHANGED, flap=True, reason="same as an earlier version (flap)")
    version = add_version(
        session,
        page,
        article,
        fingerprint=_fingerprint(item, article),
        text_hash=item.text_hash or compute_text_hash(article),
        body=item.body,
        compressed_body=item.stored_body,
        body_hash=item.body_hash or "",
        final_url=item.final_url or item.url,
        extractor=EXTRACTOR_NAME,
        extractor_version=EXTRACTOR_VERSION,
        seen_at=now,
    )
    change = None
    if previous is not None:
        diff = diff_versions(previous, article)
        classification = classify(previous, article, diff)
        if outcome == Outcome.RESTORED:
            classification = _with_restored(classification, article)
        if classification is not None:
            change = _add_change(
                session, page, latest, version, classification, diff.to_json(), now
            )
    return CheckResult(outcome, version=version, change=change, reason=decision.reason)


def _fingerprint(item: FetchedPage, article: ArticleText) -> str:
    """The article's fingerprint: the one its extraction worker computed, if any."""
    return item.fingerprint or fingerprint(article)


def _with_restored(classification: Classification | None, article: ArticleText) -> Classification:
    restored = state_change(ChangeKind.RESTORED, article.title)
    if classification is None:
        return restored
    kinds = (ChangeKind.RESTORED, *classification.kinds)
    return Classification(**{**classification.__dict__, "kinds": kinds})


def _is_flap(session: Session, page: Page, new_fingerprint: str, latest: Version | None) -> bool:
    """A → B → A: the "new" article equals an older version, not the latest."""
    older = recent_versions(session, page.id, limit=5)
    return any(
        v.fingerprint == new_fingerprint for v in older if latest is None or v.id != latest.id
    )


def page_title(version: Version | None) -> str | None:
    """The headline of a version, if any."""
    return version.title if version else None


def _add_change(
    session: Session,
    page: Page,
    before: Version | None,
    after: Version | None,
    classification: Classification,
    diff: dict | None,
    now: datetime,
) -> Change:
    change = Change(
        page_id=page.id,
        from_version_id=before.id if before else None,
        to_version_id=after.id if after else None,
        detected_at=now,
        kind=classification.kind.value,
        kinds=[k.value for k in classification.kinds],
        significant=classification.significant,
        summary=classification.summary,
        details=classification.to_json(),
        diff=diff or {},
    )
    session.add(change)
    session.flush()
    # Imported here: the matcher (sentence encoder, ~120 MiB) loads only for a change.
    from storage.linking import link_change

    link_change(session, change, classification, after or before)
    return change


def _fetch_row(item: FetchedPage, result: CheckResult) -> Fetch:
    return Fetch(**_fetch_values(item, result))


def _fetch_values(item: FetchedPage, result: CheckResult) -> dict[str, Any]:
    return dict(
        page_id=item.page_id,
        started_at=item.started_at,
        duration_ms=item.duration_ms,
        status=item.status,
        outcome=result.outcome.value,
        error=item.error or (result.reason if result.outcome == Outcome.TRANSIENT else None),
        final_url=item.final_url or None,
        etag=item.etag,
        last_modified=item.last_modified,
        bytes=len(item.body) if item.body is not None else None,
        version_id=result.version.id if result.version else None,
    )


def _update_page(
    page: Page, item: FetchedPage, decision: Decision, result: CheckResult, now: datetime
) -> None:
    memory = decision.memory
    if memory.state == PageState.FAILING and page.state != PageState.FAILING:
        page.failing_since = now
    elif memory.state != PageState.FAILING:
        page.failing_since = None
    page.state = memory.state.value
    page.consecutive_failures = memory.consecutive_failures
    page.consecutive_gone = memory.consecutive_gone
    page.last_status = item.status
    page.last_checked_at = now
    page.lease_owner = page.lease_until = None
    if result.outcome in (
        Outcome.NEW_VERSION,
        Outcome.UNCHANGED,
        Outcome.NOT_MODIFIED,
        Outcome.RESTORED,
    ):
        # Validators are only worth keeping from an answer that described the article.
        if item.status == 200:
            page.etag, page.last_modified = item.etag, item.last_modified
            page.body_hash = item.body_hash
        if item.final_url and item.final_url != item.url:
            page.redirected_to = item.final_url
    if result.version is not None:
        page.last_changed_at = now
        page.canonical_url = result.version.canonical_url or page.canonical_url
    # Last: the adaptive cadence reads the state, failures and versions set above.
    page.next_check_at = next_check_at(page, now)
