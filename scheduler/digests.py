"""Digests and feeds in the store and on disk: when each event's digest is due, what goes in it.

A digest's last-sent time is the newest `run` row of kind `digest` for the event (owner = the
event slug, shortened with a hash past 64 characters), with the period in its stats, so no
column is needed and the history of digests stays queryable. The next digest is due at the
first cron time after the last one: a daemon that was down over several digest times sends
one digest for the whole gap, not one per missed time.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.names import DIGEST_KIND, slug_key
from storage.models import Change, Event, Run, Source, Version

if TYPE_CHECKING:
    # APScheduler and the renderers (Jinja2) are imported by the functions that use them.
    from apscheduler.triggers.cron import CronTrigger

    from crawler.reports.atom import Feed, FeedEntry

# --- when ---------------------------------------------------------------------------------------


def digest_trigger(expr: str, timezone: str = "UTC") -> CronTrigger:
    """A cron trigger from a crontab line, or from six fields with seconds first.

    Raises:
        ValueError: for a line APScheduler cannot read.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 6:
        names = ("second", "minute", "hour", "day", "month", "day_of_week")
        return CronTrigger(timezone=timezone, **dict(zip(names, fields, strict=True)))
    return CronTrigger.from_crontab(expr, timezone=timezone)


def next_digest_at(trigger: CronTrigger, last: datetime) -> datetime | None:
    """The first digest time strictly after `last` (None: the cron line never fires again)."""
    return trigger.get_next_fire_time(None, last + timedelta(seconds=1))


def record_digest(
    session: Session, slug: str, since: datetime, now: datetime, stats: dict[str, Any]
) -> None:
    """Note a digest period as done (sent, or skipped because nothing significant changed)."""
    run = Run(kind=DIGEST_KIND, owner=slug_key(slug), started_at=since, finished_at=now)
    run.stats = {"slug": slug, **stats}
    session.add(run)


# --- where ---------------------------------------------------------------------------------------


def reports_dir(setting: str | None) -> Path:
    """WATCHDESK_REPORTS_DIR, else `reports` in the user data directory (created)."""
    folder = Path(setting) if setting else Path(user_data_dir("watchdesk", appauthor=False))
    folder = folder if setting else folder / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def atomic_write(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file and a rename: a reader (a feed reader
    polling the file, a web server) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)
    return path


def digest_paths(folder: Path, slug: str, now: datetime) -> tuple[Path, Path]:
    """`<folder>/<slug>/digest-<UTC time>.md` and `.html`."""
    from crawler.reports.atom import rfc3339

    stamp = rfc3339(now).replace("-", "").replace(":", "")
    base = folder / slug / f"digest-{stamp}"
    return base.with_suffix(".md"), base.with_suffix(".html")


# --- the feed ------------------------------------------------------------------------------------


def event_feed(session: Session, slug: str, limit: int, now: datetime, path: Path) -> Feed | None:
    """The event's feed: its newest `limit` significant changes (None: no such event)."""
    from crawler.reports.atom import TAG, Feed, feed_updated
    from crawler.reports.render import safe_url

    event = session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        return None
    outlets = {s.page_id: s.outlet_name for s in event.sources}
    query = (
        select(Change)
        .join(Source, Source.page_id == Change.page_id)
        .where(Source.event_id == event.id, Source.active.is_(True), Change.significant)
        .order_by(Change.detected_at.desc(), Change.id.desc())
        .limit(limit)
    )
    entries = tuple(_entry(session, change, outlets) for change in session.scalars(query))
    return Feed(
        id=f"{TAG}event/{slug}",
        slug=slug,
        title=f"watchdesk: {event.title}",
        updated=feed_updated(entries, now),
        entries=entries,
        link=safe_url(event.canonical_url) if event.canonical_url else None,
        self_link=path.resolve().as_uri(),
    )


def _entry(session: Session, change: Change, outlets: dict[int, str]) -> FeedEntry:
    from crawler.reports.atom import TAG, FeedEntry, entry_title, rfc3339
    from crawler.reports.render import safe_url

    version_id = change.to_version_id or change.from_version_id
    version = session.get(Version, version_id) if version_id else None
    details = change.details or {}
    outlet = outlets.get(change.page_id, change.page.host)
    return FeedEntry(
        id=f"{TAG}change/{change.id}",
        title=entry_title(outlet, change.kind, version.title if version else None),
        updated=rfc3339(change.detected_at),
        link=safe_url(change.page.url),
        summary=change.summary,
        kinds=tuple(change.kinds),
        added=tuple(details.get("added", ())),
        removed=tuple(details.get("removed", ())),
    )


def write_feed(session: Session, folder: Path, slug: str, limit: int, now: datetime) -> Path | None:
    """Render and write `<folder>/<slug>.atom` (None: no such event)."""
    from crawler.reports.atom import render_feed

    path = folder / f"{slug}.atom"
    feed = event_feed(session, slug, limit, now, path)
    return atomic_write(path, render_feed(feed)) if feed is not None else None
