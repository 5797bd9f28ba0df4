"""Atom 1.0 feeds of significant changes: one per event, for feed readers and newsroom tools.

A feed is built from plain values (`Feed`, `FeedEntry`) and rendered with
`templates/changes.atom.j2` with autoescaping on, so page text can never become markup.
An entry's id must never change once published, or readers show the change again: the daemon
builds entries from the store with `tag:watchdesk,2026:change/<change id>` (see
`scheduler.digests.event_feed`); `AtomRenderer` (`watchdesk report --format atom`) has no
change ids in a `Report`, so it derives the id from the page URL and the detection time,
which are just as fixed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from crawler.reports.render import TEMPLATES, ChangeEntry, Renderer, Report, safe_url

TAG = "tag:watchdesk,2026:"
#: Characters XML 1.0 forbids even escaped (page text sometimes carries them).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FeedEntry:
    """One significant change as a feed entry."""

    id: str
    title: str
    updated: str
    """RFC 3339 time the change was detected."""
    link: str
    summary: str
    kinds: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    """An event's feed: newest entries first."""

    id: str
    slug: str
    title: str
    updated: str
    entries: tuple[FeedEntry, ...]
    link: str | None = None
    self_link: str | None = None


def rfc3339(moment: datetime | str) -> str:
    """An aware time (or ISO text) as Atom wants it: UTC with a `Z`."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_title(outlet: str, kind: str, headline: str | None) -> str:
    """`Outlet · kind · headline` (the headline is left out when unknown)."""
    return " · ".join(part for part in (outlet, kind, headline) if part)


def feed_updated(entries: tuple[FeedEntry, ...], fallback: datetime) -> str:
    """The newest entry's time, else `fallback`: a feed with no new entry stays unchanged."""
    return max((e.updated for e in entries), default=rfc3339(fallback))


def render_feed(feed: Feed) -> str:
    """The feed as Atom XML text."""
    return _environment().get_template("changes.atom.j2").render(feed=feed)


# --- `watchdesk report --format atom` --------------------------------------------------------


class AtomRenderer(Renderer):
    """An Atom feed of a report's significant changes."""

    kind = "atom"

    def render(self, report: Report, *, include_all: bool = False) -> str:
        changes = [c for c in report.changes if c.significant or include_all]
        entries = tuple(sorted(map(_report_entry, changes), key=lambda e: e.updated, reverse=True))
        feed = Feed(
            id=f"{TAG}event/{report.slug}",
            slug=report.slug,
            title=f"watchdesk: {report.title}",
            updated=feed_updated(entries, datetime.fromisoformat(report.generated_at)),
            entries=entries,
        )
        return render_feed(feed)


def _report_entry(change: ChangeEntry) -> FeedEntry:
    key = hashlib.sha1(f"{change.url}|{change.detected_at}".encode(), usedforsecurity=False)
    return FeedEntry(
        id=f"{TAG}change/{key.hexdigest()[:20]}",
        title=entry_title(change.outlet, change.kind, change.after.title if change.after else None),
        updated=rfc3339(change.detected_at),
        link=safe_url(change.url),
        summary=change.summary,
        kinds=change.kinds,
        added=change.added,
        removed=change.removed,
    )


_ENV: Environment | None = None


def _environment() -> Environment:
    global _ENV  # one environment per process: the template compiles once
    if _ENV is None:
        _ENV = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        _ENV.filters["xml"] = xml_text
    return _ENV


def xml_text(text: str | None) -> str:
    """Text without the control characters XML 1.0 cannot carry (escaping is autoescape's)."""
    return _XML_INVALID.sub("", text or "")
