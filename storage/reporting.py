"""Build a `crawler.reports.render.Report` from the store: one event, one period."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.changes.diffing import ArticleDiff
from crawler.reports.render import (
    ChangeEntry,
    DiffLine,
    ErrorEntry,
    FollowupEntry,
    Report,
    VersionRef,
)
from storage.models import Change, Event, Fetch, Followup, Page, Source, Version
from storage.repositories import get_event

#: Paragraph lines of inline diff shown per change; the rest is in `watchdesk diff`.
DIFF_LINES = 12


class UnknownEvent(LookupError):
    """No event with that slug."""


def build_report(session: Session, slug: str, since: datetime, now: datetime) -> Report:
    """Everything that happened to the event's sources from `since` up to `now` (not
    after: consecutive digests' periods must not overlap)."""
    event = get_event(session, slug)
    if event is None:
        raise UnknownEvent(f"no event {slug!r}; see `watchdesk event list`")
    outlets = {s.page_id: s.outlet_name for s in event.sources}
    active = [s for s in event.sources if s.active]
    return Report(
        slug=event.slug,
        title=event.title,
        generated_at=_iso(now),
        since=_iso(since),
        watch_items=tuple((i.number, i.text) for i in event.watch_items if i.active),
        changes=tuple(_changes(session, event, outlets, [s.page_id for s in active], since, now)),
        follow_ups=tuple(_followups(session, event, since, now)),
        errors=tuple(_errors(session, active)),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _changes(
    session: Session,
    event: Event,
    outlets: dict[int, str],
    page_ids: list[int],
    since: datetime,
    now: datetime,
) -> Iterable[ChangeEntry]:
    query = (
        select(Change)
        .where(Change.page_id.in_(page_ids), Change.detected_at >= since, Change.detected_at < now)
        .order_by(Change.detected_at, Change.id)
    )
    for change in session.scalars(query):
        links = [link for link in change.links if link.watch_item.event_id == event.id]
        details = change.details or {}
        yield ChangeEntry(
            url=change.page.url,
            outlet=outlets.get(change.page_id, change.page.host),
            kind=change.kind,
            kinds=tuple(change.kinds),
            significant=change.significant,
            detected_at=_iso(change.detected_at) or "",
            before=_ref(session, change.from_version_id),
            after=_ref(session, change.to_version_id),
            summary=change.summary,
            added=tuple(details.get("added", ())),
            removed=tuple(details.get("removed", ())),
            watch_items=tuple(sorted({link.watch_item.number for link in links})),
            evidence={link.watch_item.number: tuple(link.evidence) for link in links},
            diff=diff_lines(change.diff),
        )


def _ref(session: Session, version_id: int | None) -> VersionRef | None:
    version = session.get(Version, version_id) if version_id else None
    return VersionRef(version.title, version.number) if version else None


def diff_lines(stored: dict | None, limit: int = DIFF_LINES) -> tuple[DiffLine, ...]:
    """The changed paragraphs of a stored diff, as inline-diff lines (headline first)."""
    if not stored:
        return ()
    diff = ArticleDiff.from_json(stored)
    lines = []
    old, new = diff.headlines.get("headline", (None, None))
    if old != new:
        lines.append(DiffLine("changed", (("delete", old or ""), ("insert", new or ""))))
    for change in diff.paragraphs:
        if change.op == "changed":
            segments = tuple((s.op, s.text) for s in change.segments)
        elif change.op == "added":
            segments = (("insert", change.new or ""),)
        elif change.op == "removed":
            segments = (("delete", change.old or ""),)
        elif change.op == "moved":
            segments = (("equal", change.new or ""),)
        else:
            continue
        lines.append(DiffLine(change.op, segments))
    return tuple(lines[:limit])


def _followups(
    session: Session, event: Event, since: datetime, now: datetime
) -> Iterable[FollowupEntry]:
    query = (
        select(Followup)
        .where(Followup.event_id == event.id, Followup.detected_at >= since)
        .where(Followup.detected_at < now)
        .order_by(Followup.score.desc(), Followup.id)
    )
    rows = list(session.scalars(query))
    grouped: dict[str, list[Followup]] = {}
    for row in rows:
        grouped.setdefault(row.group_key or f"page-{row.page_id}", []).append(row)
    numbers = {item.id: item.number for item in event.watch_items}
    for group in grouped.values():
        # The original leads its syndicated copies: the earliest published (then first seen).
        group.sort(key=lambda row: (_published(session, row), row.detected_at, row.id))
        first = group[0]
        version = session.get(Version, first.version_id) if first.version_id else None
        outlet = first.page.outlet.name if first.page.outlet else first.page.host
        yield FollowupEntry(
            url=first.page.url,
            outlet=outlet,
            title=version.title if version else None,
            published_at=version.published if version else None,
            language=version.language if version else None,
            score=round(first.score, 3),
            watch_items=tuple(
                sorted({numbers[i] for row in group for i in row.watch_item_ids if i in numbers})
            ),
            evidence=tuple(first.evidence),
            also_at=tuple(row.page.url for row in group[1:]),
        )


def _published(session: Session, row: Followup) -> datetime:
    """A follow-up's publication time (UTC; a date alone is midnight UTC; unknown sorts last)."""
    version = session.get(Version, row.version_id) if row.version_id else None
    try:
        moment = (
            datetime.fromisoformat(version.published) if version and version.published else None
        )
    except ValueError:
        moment = None
    if moment is None:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _errors(session: Session, sources: list[Source]) -> Iterable[ErrorEntry]:
    for source in sources:
        page: Page = source.page
        if page.state not in ("failing", "gone_pending"):
            continue
        last = session.scalar(
            select(Fetch).where(Fetch.page_id == page.id).order_by(Fetch.id.desc()).limit(1)
        )
        yield ErrorEntry(
            url=page.url,
            outlet=source.outlet_name,
            state=page.state,
            since=_iso(page.failing_since or page.last_checked_at),
            consecutive_failures=page.consecutive_failures,
            last_error=(last.error or (f"HTTP {last.status}" if last.status else None))
            if last
            else None,
        )
