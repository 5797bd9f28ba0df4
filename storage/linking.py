"""Link a change of a cited article to the watch items it bears on.

The matcher (`crawler.matching.matcher`) is pure; this module feeds it each citing event's profile
and stores the links with their evidence. Follow-ups share the same matcher.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.changes.classify import Classification
from crawler.matching.matcher import ItemTerms, MatchProfile, build_profile, relate_edit
from storage.models import Change, ChangeLink, Event, Source, Version, WatchItem


def profile_of(event: Event) -> MatchProfile:
    """The matcher's view of an event: its text, entities and active watch items."""
    items = [
        ItemTerms(
            id=item.number,
            text=item.text,
            terms={lang: tuple(words) for lang, words in (item.terms or {}).items()},
        )
        for item in event.watch_items
        if item.active
    ]
    return build_profile(
        title=event.title,
        summary=event.summary,
        entities=list(event.entities or []),
        entity_terms={k: list(v) for k, v in (event.entity_terms or {}).items()},
        items=items,
        overrides=event.match_overrides or None,
    )


def citing_events(session: Session, page_id: int) -> list[Event]:
    """Events whose active sources cite the page."""
    query = (
        select(Event)
        .join(Source, Source.event_id == Event.id)
        .where(Source.page_id == page_id, Source.active.is_(True))
    )
    return list(session.scalars(query))


def link_change(
    session: Session, change: Change, classification: Classification, version: Version | None
) -> list[ChangeLink]:
    """Store links from `change` to the watch items its added/removed text bears on."""
    if not classification.added and not classification.removed:
        return []
    links = []
    for event in citing_events(session, change.page_id):
        by_number = {item.number: item for item in event.watch_items if item.active}
        matches = relate_edit(
            profile_of(event),
            title=version.title if version else None,
            added=classification.added,
            removed=classification.removed,
            language=version.language if version else None,
        )
        for match in matches:
            item: WatchItem | None = by_number.get(match.id)
            if item is None:
                continue
            link = ChangeLink(
                change=change, watch_item=item, score=match.score, evidence=list(match.evidence)
            )
            session.add(link)
            links.append(link)
    return links
