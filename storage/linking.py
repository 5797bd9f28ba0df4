"""Link a change of a cited article to the watch items it bears on.

The matcher (`crawler.matching.matcher`) is pure; this module feeds it each citing event's profile
and stores the links with their evidence. Follow-ups share the same matcher.
"""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.changes.classify import ChangeKind, Classification
from crawler.matching.choose import Profile, build, relate_edit
from crawler.matching.profile import MAX_SOURCES, ItemTerms, SourceText
from storage.models import Change, ChangeLink, Event, Source, Version, WatchItem


def profile_of(session: Session, event: Event) -> Profile:
    """The matcher's view of an event: its card's text, entities, active watch items, and
    its cited articles as first stored (the event told in their languages, `build_profile`).

    Events with editor overrides get the lexical matcher, others the term-free one
    (`crawler.matching.choose`).

    Built once per process for each version of the event and of its sources' first
    versions (the key holds everything the profile is made from), since building embeds
    the card's sentences. First versions, not the latest: a profile that followed every
    edit of a cited article would drift, and the article as cited is what the card is about.
    """
    items = tuple(
        ItemTerms(
            id=item.number,
            text=item.text,
            terms={lang: tuple(words) for lang, words in (item.terms or {}).items()},
        )
        for item in event.watch_items
        if item.active
    )
    cited = session.execute(
        select(Version.title, Version.paragraphs)
        .join(Source, Source.page_id == Version.page_id)
        .where(Source.event_id == event.id, Source.active.is_(True), Version.number == 1)
        .order_by(Source.id)
        .limit(MAX_SOURCES)
    )
    sources = [(title, "\n".join(paragraphs or [])) for title, paragraphs in cited]
    key = json.dumps(
        [event.title, event.lede, event.summary, event.entities, event.entity_terms,
         event.match_overrides, [(i.id, i.text, i.terms) for i in items], sources],
        sort_keys=True, ensure_ascii=False, default=list,
    )  # fmt: skip
    return _profile(key)


@lru_cache(maxsize=64)
def _profile(key: str) -> Profile:
    """The profile for one serialised event (see `profile_of`)."""
    title, lede, summary, entities, entity_terms, overrides, rows, sources = json.loads(key)
    items = [ItemTerms(id=number, text=text, terms=terms) for number, text, terms in rows]
    return build(
        title=title,
        lede=lede,
        summary=summary,
        entities=list(entities or []),
        entity_terms={k: list(v) for k, v in (entity_terms or {}).items()},
        items=items,
        overrides=overrides or None,
        sources=[SourceText(title, text) for title, text in sources],
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
            profile_of(session, event),
            title=version.title
            if version and ChangeKind.HEADLINE in classification.kinds
            else None,
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
