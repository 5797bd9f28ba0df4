"""Record one check of a watched page: fetch row, maybe a version, maybe a change.

Everything for one page is written in the caller's single transaction, so a killed process
leaves either the whole check or none of it. The decisions come from pure functions
(`crawler.fetch.outcomes.decide`, `crawler.changes.baseline`, `crawler.changes.classify`);
this module only applies them.

A new article is, in this order: a *revert* when it equals an earlier version (stored again
as the newest version, kind `reverted`); a *suspect* when it does not look like the same
article (held on the page row, nothing stored, until a later check confirms it); else a new
version, kind `rebaselined` (quiet) when the baseline was made by another extractor, or
classified against the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crawler.changes.baseline import (
    Held,
    confirmed,
    decoding_only,
    ends_properly,
    suspect_reason,
)
from crawler.changes.classify import ChangeKind, Classification, classify, state_change
from crawler.changes.diffing import diff_versions
from crawler.extract.article import ArticleText

# Not crawler.extract.extraction: the recording thread never extracts, and trafilatura
# would cost the crawl's main process ~40 MiB (extraction runs in worker processes).
from crawler.extract.furniture import looks_truncated
from crawler.extract.identity import EXTRACTOR_NAME, EXTRACTOR_VERSION
from crawler.extract.normalise import fingerprint
from crawler.extract.normalise import text_hash as compute_text_hash
from crawler.fetch.outcomes import (
    Decision,
    Observation,
    Outcome,
    PageMemory,
    PageState,
    decide,
    full_fetch_due,
)
from crawler.items import FetchedPage
from scheduler.cadence import deferred
from scheduler.state import (
    history_from_rows,
    history_row,
    next_check_for,
    page_history_rows,
    policy_from_env,
    prefetch_histories,
)
from storage.linking import link_change
from storage.models import Change, Fetch, Page, Version
from storage.repositories import (
    add_version,
    article_of,
    earlier_version,
    latest_version,
    latest_versions,
    raw_html_of,
    reported_since,
)


@dataclass(frozen=True)
class CheckRules:
    """The settings a check is recorded under (the record pipeline reads them; the
    defaults are those of crawler/settings.py)."""

    confirmations: int = 2
    """WATCHDESK_REMOVAL_CONFIRMATIONS: consecutive "gone" checks before a removal."""
    confirm_after: float = 3600.0
    """WATCHDESK_CONFIRM_AFTER: seconds between the first sighting of a removal or a suspect
    version and the check that may confirm it (0: the next check)."""
    unconditional_after: float | None = 86400.0
    """WATCHDESK_UNCONDITIONAL_AFTER: seconds after the last 200 before a 304 makes the next
    check go without validators (None: never)."""


@dataclass(frozen=True)
class CheckResult:
    """What recording a check produced (for stats and the run summary)."""

    outcome: Outcome
    version: Version | None = None
    change: Change | None = None
    reason: str = ""
    suspect: str | None = None
    """Fingerprint of the candidate held as suspect by this check."""


def record_checks(
    session: Session,
    items: Sequence[FetchedPage],
    *,
    now: datetime,
    rules: CheckRules = CheckRules(),
) -> list[CheckResult]:
    """Record a batch of checks in the caller's transaction, one result per item.

    The bulk of any recheck is a 304 from a healthy page: nothing to extract, compare or
    version. Those are written with two bulk statements (fetch rows, page updates) after the
    same decision `record_check` would take; everything else goes through `record_check`.
    """
    ids = [item.page_id for item in items]
    pages = {page.id: page for page in session.scalars(select(Page).where(Page.id.in_(ids)))}
    histories = prefetch_histories(session, ids)
    quiet = [item for item in items if _is_quiet(item, pages[item.page_id], rules, now)]
    loud = [item for item in items if id(item) not in {id(q) for q in quiet}]
    latest = latest_versions(session, [i.page_id for i in loud if histories[i.page_id]])
    results, seen = {}, set()
    for item in loud:
        known = None
        if item.page_id not in seen:  # a page checked twice in one batch reads the store
            known = Known(latest.get(item.page_id), histories[item.page_id])
        seen.add(item.page_id)
        results[id(item)] = record_check(session, item, now=now, rules=rules, known=known)
    _record_quiet(session, quiet, pages, histories, now)
    return [results.get(id(item), CheckResult(Outcome.NOT_MODIFIED)) for item in items]


def _is_quiet(item: FetchedPage, page: Page, rules: CheckRules, now: datetime) -> bool:
    """A 304 that leaves a healthy page exactly as it was (but for the check times): no
    suspect to drop, no unconditional fetch coming due."""
    if item.status != 304 or item.final_url not in ("", item.url) or page.state != "ok":
        return False
    if page.suspect_fingerprint is not None:
        return False
    if full_fetch_due(page.full_fetch_at, now, rules.unconditional_after):
        return False
    decision = decide(Observation(status=304), _memory(page), rules.confirmations)
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


@dataclass(frozen=True)
class Known:
    """What `record_checks` read for a whole batch in two queries, so one check needs none:
    the page's latest version and its history rows (`scheduler.state.prefetch_histories`)."""

    latest: Version | None
    history: list[Any]


def record_check(
    session: Session,
    item: FetchedPage,
    *,
    now: datetime,
    rules: CheckRules = CheckRules(),
    known: Known | None = None,
) -> CheckResult:
    """Apply one fetched page to the store; the caller commits.

    `known`: the page's latest version and history as read for the batch; None reads them
    here (after a flush, so a version of this same transaction counts).
    """
    page = session.get_one(Page, item.page_id)
    if known is None:
        session.flush()
        known = Known(latest_version(session, page.id), page_history_rows(session, page.id))
    latest = known.latest if _needs_latest(item, page) else None
    previous = article_of(latest) if latest else None
    observation = _observe(item, latest, previous, now)
    decision = decide(observation, _memory(page), rules.confirmations, rules.confirm_after)
    result = _apply(session, page, item, known.latest, latest, previous, decision, now, rules)
    session.add(_fetch_row(item, result))
    _update_page(page, item, decision, result, known.history, now, rules)
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
    item: FetchedPage, latest: Version | None, previous: ArticleText | None, now: datetime
) -> Observation:
    article = item.article
    # Same bytes as the last check (`same_body`: nothing was extracted), as the latest
    # version, or the same article, or one that differs only by its character decoding:
    # nothing new.
    same = latest is not None and (
        item.same_body
        or item.body_hash == latest.body_hash
        or (article is not None and _fingerprint(item, article) == latest.fingerprint)
        or (article is not None and previous is not None and decoding_only(previous, article))
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
        now=now,
        retry_after=item.retry_after,
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
        gone_since=page.gone_since,
    )


def _apply(
    session: Session,
    page: Page,
    item: FetchedPage,
    newest: Version | None,
    latest: Version | None,
    previous: ArticleText | None,
    decision: Decision,
    now: datetime,
    rules: CheckRules,
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
    new_fingerprint = _fingerprint(item, article)
    earlier = earlier_version(session, page.id, new_fingerprint, latest.number) if latest else None
    if earlier is None:
        reason = suspect_reason(article, previous, cut_short=_cut_short(item, latest))
        held = _held(page)
        if reason is not None and not confirmed(held, new_fingerprint, now, rules.confirm_after):
            return CheckResult(Outcome.SUSPECT, reason=reason, suspect=new_fingerprint)
    version = add_version(
        session,
        page,
        article,
        fingerprint=new_fingerprint,
        text_hash=item.text_hash or compute_text_hash(article),
        body=item.body,
        compressed_body=item.stored_body,
        body_hash=item.body_hash or "",
        final_url=item.final_url or item.url,
        extractor=EXTRACTOR_NAME,
        extractor_version=EXTRACTOR_VERSION,
        seen_at=now,
        number=newest.number + 1 if newest else 1,
    )
    change = None
    if previous is not None and latest is not None:
        diff = diff_versions(previous, article)
        if earlier is not None:
            classification: Classification | None = _reverted(session, page, earlier, previous)
        elif latest.extractor_version != EXTRACTOR_VERSION:
            classification = _rebaselined(latest.extractor_version)
        else:
            classification = classify(previous, article, diff)
        if outcome == Outcome.RESTORED:
            classification = _with_restored(classification, article)
        if classification is not None:
            change = _add_change(
                session, page, latest, version, classification, diff.to_json(), now
            )
    return CheckResult(outcome, version=version, change=change, reason=decision.reason)


def _held(page: Page) -> Held | None:
    """The suspect candidate the page holds, if any."""
    if page.suspect_fingerprint is None or page.suspect_since is None:
        return None
    return Held(page.suspect_fingerprint, page.suspect_since)


def _cut_short(item: FetchedPage, latest: Version | None) -> bool:
    """The body lacks the closing tags the baseline's body had (the baseline's bytes are
    only loaded for a body that lacks them)."""
    if item.body is None or ends_properly(item.body) or latest is None:
        return False
    return ends_properly(raw_html_of(latest))


def _reverted(
    session: Session, page: Page, earlier: Version, previous: ArticleText
) -> Classification:
    """A → B → A: back to version `earlier`; reported only when it undoes a reported change."""
    undone = classify(previous, article_of(earlier))
    significant = reported_since(session, page.id, earlier.number)
    summary = f"Reverted to version {earlier.number}"
    return Classification(
        kinds=(ChangeKind.REVERTED, *(undone.kinds if undone else ())),
        significant=significant,
        summary=f"{summary}; {undone.summary}" if undone else summary,
        added=undone.added if undone else (),
        removed=undone.removed if undone else (),
        numbers=undone.numbers if undone else (),
        quotes=undone.quotes if undone else (),
    )


def _rebaselined(old_extractor: str) -> Classification:
    """The text changed together with the extractor: a new baseline, never an edit."""
    summary = f"Re-extracted with {EXTRACTOR_VERSION} (was {old_extractor}); new baseline"
    return Classification(kinds=(ChangeKind.REBASELINED,), significant=False, summary=summary)


def _fingerprint(item: FetchedPage, article: ArticleText) -> str:
    """The article's fingerprint: the one its extraction worker computed, if any."""
    return item.fingerprint or fingerprint(article)


def _with_restored(classification: Classification | None, article: ArticleText) -> Classification:
    restored = state_change(ChangeKind.RESTORED, article.title)
    if classification is None:
        return restored
    kinds = (ChangeKind.RESTORED, *classification.kinds)
    return Classification(**{**classification.__dict__, "kinds": kinds})


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
    session.flush()  # the versions of this check get their ids
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
    session.flush()  # the links name it
    link_change(session, change, classification, after or before)
    return change


#: Outcomes whose reason goes on the fetch row (why nothing was recorded).
_EXPLAINED = frozenset({Outcome.TRANSIENT, Outcome.SUSPECT})


def _fetch_row(item: FetchedPage, result: CheckResult) -> Fetch:
    """The fetch row, tied to its version by the relationship: the version gets its id at
    the batch's one flush (`_fetch_values` is for the bulk insert of quiet 304s)."""
    values = _fetch_values(item, result)
    del values["version_id"]
    return Fetch(**values, version=result.version)


def _fetch_values(item: FetchedPage, result: CheckResult) -> dict[str, Any]:
    return dict(
        page_id=item.page_id,
        started_at=item.started_at,
        duration_ms=item.duration_ms,
        status=item.status,
        outcome=result.outcome.value,
        error=item.error or (result.reason if result.outcome in _EXPLAINED else None),
        final_url=item.final_url or None,
        etag=item.etag,
        last_modified=item.last_modified,
        bytes=len(item.body) if item.body is not None else None,
        version_id=result.version.id if result.version else None,
    )


def _update_page(
    page: Page,
    item: FetchedPage,
    decision: Decision,
    result: CheckResult,
    history: list[Any],
    now: datetime,
    rules: CheckRules,
) -> None:
    # A suspect answer tells nothing yet: the page's memory stays as it was.
    memory = _memory(page) if result.outcome == Outcome.SUSPECT else decision.memory
    if memory.state == PageState.FAILING and page.state != PageState.FAILING:
        page.failing_since = now
    elif memory.state != PageState.FAILING:
        page.failing_since = None
    page.state = memory.state.value
    page.consecutive_failures = memory.consecutive_failures
    page.consecutive_gone = memory.consecutive_gone
    page.gone_since = memory.gone_since
    page.last_status = item.status
    page.last_checked_at = now
    page.lease_owner = page.lease_until = None
    if item.status == 200 and item.body is not None:
        page.full_fetch_at = now
    _update_suspect(page, result, now)
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
    if result.outcome == Outcome.NOT_MODIFIED and full_fetch_due(
        page.full_fetch_at, now, rules.unconditional_after
    ):
        page.etag = page.last_modified = None  # the next check asks without validators
    if result.version is not None:
        page.last_changed_at = now
        page.canonical_url = result.version.canonical_url or page.canonical_url
    # Last: the adaptive cadence reads the state, failures and versions set above; a
    # server's Retry-After beyond the retry cap defers the page past it.
    if result.version is not None:
        history = [*history, history_row(result.version)]
    due = next_check_for(history_from_rows(history, page), now)
    page.next_check_at = deferred(due, now, item.retry_after)
    if page.suspect_fingerprint is not None:
        # Come back when the suspect can be confirmed (or dropped), not days later.
        wait = max(timedelta(seconds=rules.confirm_after), policy_from_env().min_interval)
        page.next_check_at = min(page.next_check_at, now + wait)


def _update_suspect(page: Page, result: CheckResult, now: datetime) -> None:
    """Hold a new suspect candidate, keep the one seen again, drop it when the page is the
    article again (or a version was stored)."""
    if result.outcome == Outcome.SUSPECT:
        if page.suspect_fingerprint != result.suspect:
            page.suspect_fingerprint, page.suspect_since = result.suspect, now
        page.suspect_reason = result.reason
    elif result.outcome in (
        Outcome.NEW_VERSION,
        Outcome.UNCHANGED,
        Outcome.NOT_MODIFIED,
        Outcome.RESTORED,
    ):
        page.suspect_fingerprint = page.suspect_since = page.suspect_reason = None
