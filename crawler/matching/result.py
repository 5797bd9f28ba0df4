"""What either matcher returns: the watch items an article bears on, and why.

One pair of types for the term-free matcher (`matcher`) and the lexical one
(`lexical.matcher`), so the store, the reports and `watchdesk match` read one shape.
Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemMatch:
    """A watch item an article or edit bears on, with why."""

    id: int
    score: float
    evidence: tuple[str, ...]
    """The sentence(s) that bear on the item, best first, trimmed (about 200-240 characters);
    the lexical matcher prefixes each with the terms it matched ("[pollo] ...")."""


@dataclass(frozen=True)
class Relevance:
    """How an article relates to an event, and the reasons."""

    on_topic: bool
    score: float
    """The matcher's event score: the term-free matcher's on-topic probability (0.5 decides),
    or the lexical matcher's BM25 event score."""
    items: tuple[ItemMatch, ...]
    """Watch items it bears on, best first; empty = related follow-up without a watch item."""
    evidence: tuple[str, ...]
    """The passages most about the event (term-free: the best sentence and the anchors found)."""
    item_scores: tuple[tuple[int, float, str], ...] = ()
    """Term-free matcher only: every item's score and best sentence, linked or not."""
