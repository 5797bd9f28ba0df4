"""Link a change of a cited article to the watch items it bears on.

The matcher is pure (`crawler.matching`); this module reads each citing event's profile
inputs from the store (`profile_key`) and stores the links with their evidence. Follow-ups
share the same matcher (`relate_article`). Which process matches is the session's
(`MATCHER` in `Session.info`): a crawl sets its `MatcherProcess`, so the crawl process never
loads the matcher's libraries; other commands match here (`InProcess`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.changes.classify import ChangeKind, Classification
from crawler.matching import MAX_SOURCES
from crawler.matching.process import InProcess, Matcher, keyed_profile
from crawler.matching.process import profile_key as key_of
from storage.models import Change, ChangeLink, Event, Source, Version, WatchItem

if TYPE_CHECKING:
    from crawler.matching.choose import Profile
    from crawler.matching.result import Relevance

#: `Session.info` key of the `Matcher` that session's links are scored by.
MATCHER = "watchdesk.matcher"
_IN_PROCESS = InProcess()


def matcher_of(session: Session) -> Matcher:
    """The matcher this session's caller chose, else this process."""
    return session.info.get(MATCHER) or _IN_PROCESS


def profile_key(session: Session, event: Event) -> str:
    """What the matcher's view of an event is built from (`crawler.matching.process`): its
    card's text, entities, active watch items, and its cited articles as first stored (the
    event told in their languages, `build_profile`).

    Events with editor overrides get the lexical matcher, others the term-free one
    (`crawler.matching.choose`). The key holds everything the profile is made from, so a
    profile is built once per process for each version of the event and of its sources'
    first versions. First versions, not the latest: a profile that followed every edit of a
    cited article would drift, and the article as cited is what the card is about.
    """
    items = [
        (item.number, item.text, {lang: list(words) for lang, words in (item.terms or {}).items()})
        for item in event.watch_items
        if item.active
    ]
    cited = session.execute(
        select(Version.title, Version.paragraphs)
        .join(Source, Source.page_id == Version.page_id)
        .where(Source.event_id == event.id, Source.active.is_(True), Version.number == 1)
        .order_by(Source.id)
        .limit(MAX_SOURCES)
    )
    return key_of(
        title=event.title,
        lede=event.lede,
        summary=event.summary,
        entities=event.entities,
        entity_terms=event.entity_terms,
        overrides=event.match_overrides,
        items=items,
        sources=[(title, "\n".join(paragraphs or [])) for title, paragraphs in cited],
    )


def profile_of(session: Session, event: Event) -> Profile:
    """The matcher's profile of an event, built in this process (`profile_key`)."""
    return keyed_profile(profile_key(session, event))


def citing_events(session: Session, page_id: int) -> list[Event]:
    """Events whose active sources cite the page."""
    query = (
        select(Event)
        .join(Source, Source.event_id == Event.id)
        .where(Source.page_id == page_id, Source.active.is_(True))
    )
    return list(session.scalars(query))


def relate_article(session: Session, event: Event, version: Version) -> Relevance:
    """How a stored article relates to an event (the session's matcher, `matcher_of`)."""
    return matcher_of(session).relate(
        profile_key(session, event),
        title=version.title,
        text="\n".join(version.paragraphs or []),
        language=version.language,
    )


def link_change(
    session: Session, change: Change, classification: Classification, version: Version | None
) -> list[ChangeLink]:
    """Store links from `change` to the watch items its added/removed text bears on.

    Raises:
        MatcherFailed: the session's matcher process died twice: the caller's transaction
            fails and the check is recorded again later, never without its links.
    """
    if not classification.added and not classification.removed:
        return []
    links = []
    matcher = matcher_of(session)
    for event in citing_events(session, change.page_id):
        by_number = {item.number: item for item in event.watch_items if item.active}
        matches = matcher.relate_edit(
            profile_key(session, event),
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
