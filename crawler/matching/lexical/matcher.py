"""Relevance matcher: does an article (or an edit of a cited one) bear on an event's watch items?

Pure functions on plain data (no Scrapy, no SQLAlchemy), English, Spanish and Chinese.

How it decides, and why:

- **Passages are sentences.** A watch item is a narrow question ("is the poultry opening
  turning into export volumes?"); one sentence that answers it is the evidence an editor
  wants to see, and a whole-article bag of words would let a long article match everything.
- **Okapi BM25 per sentence** (k1 = 1.2, b = 0.3: sentences vary little in length, so length
  normalisation is mild), query = the item's weighted terms. The item's score over an article
  is best sentence + 0.5 x second + 0.25 x third: sustained discussion ranks above a passing
  mention, but a single clear sentence is enough.
- **IDF is computed over the event's watch items** (Lucene's `ln(1 + (N - df + .5)/(df + .5))`
  with N = number of items): there is no background news corpus to estimate general word
  rarity from, and what the matcher must tell apart is *which item* a sentence is about; a
  term every item shares ("MOU") carries no such information.
- **Term weights say how specific a term is**: editor terms (`terms` in the overrides) and
  automatic two-to-three-word phrases from the item's English text weigh 1.0; automatic single
  words and editor `support` words 0.4; an entity the item itself names (item 3's "China")
  0.5. Single words that occur in the event title ("visit", "data", "MOU") are dropped from
  the items: they say "this event", not "this item". Generic watch-item wording ("whether",
  "measurable", "signature") is never a term.
- **An item links** when its score reaches the item threshold (0.8) *and* at least one matched
  term is strong (weight 1.0, shared by at most half of the items): two weak words never link.
- **On-topic** needs the required entity co-occurrence (overrides `require`, e.g. Paraguay AND
  Taiwan; an item's own groups, e.g. China AND Paraguay, also qualify when that item matches)
  within a window of three sentences (the title counts in every window), each entity of the
  group being *salient* (in the title or the first two sentences, or named twice: a story
  about Honduras that ends "... Paraguay still recognises Taiwan" is not about Paraguay;
  the people a card names for a country count as naming it, since domestic press rarely
  writes its own country's name), *and* an event score of at least 2.0. The event score
  is the same BM25 over all item terms, the title's terms
  and the editor's `event_terms` (no IDF), plus 0.4 per required entity mentioned in a
  sentence, capped at 0.8 per sentence. Entities alone can therefore reach at most
  0.8 x 1.75 = 1.4: an article that merely names Paraguay and Taiwan is never on-topic.
- **Titles** weigh 1.5 x a body sentence (editors put the subject there).

Entity aliases resolve leftmost-longest, with the overrides' `not` phrases hiding look-alikes
("Republic of China" is not China). All terms of all languages are looked up in every article:
Spanish pages quote English terms, and analysis goes by script (see `crawler.matching.text`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crawler.matching.lexical.profile import (
    Feature,
    MatchProfile,
    build_profile,
    mentions,
)
from crawler.matching.lexical.text import Hit, analyse, split_sentences
from crawler.matching.result import ItemMatch, Relevance

logger = logging.getLogger(__name__)

__all__ = ["build_profile", "relate", "relate_edit"]

K1 = 1.2
B = 0.3
ENTITY_WEIGHT = 0.4
ENTITY_CAP = 0.8
TITLE_BOOST = 1.5
DECAY = (1.0, 0.5, 0.25)
MIN_AVG_LEN = 10.0
WINDOW = 3
LEAD = 2
EVIDENCE_CHARS = 200


@dataclass(frozen=True)
class _Passage:
    """One analysed sentence (or the title) of an article or edit."""

    text: str
    hits: tuple[Hit[int], ...]
    entities: Counter[str]
    length: int
    offsets: tuple[int, ...]
    boost: float = 1.0
    prefix: str = ""


# --- scoring ------------------------------------------------------------------------------


def relate(
    profile: MatchProfile, *, title: str | None, text: str, language: str | None
) -> Relevance:
    """How an article relates to the event of `profile`.

    Args:
        profile: from `build_profile`.
        title: the article's headline, if known.
        text: the article body (paragraphs separated by newlines).
        language: the page's language; unused by scoring (analysis goes by script), accepted
            so callers pass what they have.

    Returns:
        The relevance; `items` is empty when the article is off-topic.
    """
    del language
    passages = _passages(profile, text, title)
    avg = _avg_len(passages)
    event_scores = [_event_score(profile, p, avg) for p in passages]
    event = _aggregate(event_scores)
    candidates = [
        m for m in (_item_match(profile, i, passages, avg) for i in profile.item_ids) if m
    ]
    gate = _gate(profile.require, passages) or any(
        _gate(profile.item_require[m.id], passages) for m in candidates
    )
    on_topic = gate and event >= profile.event_threshold
    items = (
        [m for m in candidates if _gate(profile.item_require[m.id], passages)] if on_topic else []
    )
    items.sort(key=lambda m: -m.score)
    evidence = _event_evidence(profile, passages, event_scores)
    return Relevance(on_topic, round(event, 3), tuple(items), evidence)


def relate_edit(
    profile: MatchProfile,
    *,
    title: str | None,
    added: Sequence[str],
    removed: Sequence[str],
    language: str | None,
) -> tuple[ItemMatch, ...]:
    """The watch items an edit of a cited (so on-topic) article bears on.

    Args:
        profile: from `build_profile`.
        title: the article's headline; not scored (an unchanged headline would otherwise
            link every edit to whatever the article is about).
        added: text the edit added (sentences or paragraphs).
        removed: text the edit removed.
        language: unused by scoring, see `relate`.

    Returns:
        Matches, best first; evidence sentences start with "+ " (added) or "- " (removed).
    """
    del title, language
    passages = [
        p
        for prefix, chunks in (("+ ", added), ("- ", removed))
        for chunk in chunks
        for p in _passages(profile, chunk, None, prefix)
    ]
    avg = _avg_len(passages)
    matches = [m for m in (_item_match(profile, i, passages, avg) for i in profile.item_ids) if m]
    return tuple(sorted(matches, key=lambda m: -m.score))


def _passages(
    profile: MatchProfile, text: str, title: str | None, prefix: str = ""
) -> list[_Passage]:
    """The title (boosted) and the sentences of `text`, analysed."""
    out = [_passage(profile, title, TITLE_BOOST, prefix)] if title and title.strip() else []
    out += [_passage(profile, s, 1.0, prefix) for s in split_sentences(text)]
    return out


def _passage(profile: MatchProfile, text: str, boost: float, prefix: str) -> _Passage:
    """Analyse one sentence: term hits, entity mentions, length."""
    tokens = analyse(text)
    return _Passage(
        text=text.strip(),
        hits=tuple(profile.terms.find(tokens.words)),
        entities=mentions(tokens.words, profile.entities),
        length=len(tokens.words),
        offsets=tokens.offsets,
        boost=boost,
        prefix=prefix,
    )


def _avg_len(passages: Sequence[_Passage]) -> float:
    """Average sentence length in content tokens, floored so short texts are not over-boosted."""
    body = [p.length for p in passages if p.boost == 1.0] or [p.length for p in passages]
    return max(MIN_AVG_LEN, sum(body) / len(body)) if body else MIN_AVG_LEN


def _visible(hits: Iterable[Hit[int]], weights: Mapping[Feature, float]) -> list[Hit[int]]:
    """Hits of the query's terms, without those inside a longer hit of the same query."""
    mine = [h for h in hits if h.payload in weights]
    return [
        h
        for h in mine
        if not any(
            o.start <= h.start and h.end <= o.end and o.end - o.start > h.end - h.start
            for o in mine
        )
    ]


def _bm25(
    counts: Mapping[Feature, int], weights: Mapping[Feature, float], p: _Passage, avg: float
) -> float:
    """Okapi BM25 of one passage for a weighted query (title boost applied)."""
    norm = K1 * (1 - B + B * p.length / avg)
    total = sum(weights[f] * tf * (K1 + 1) / (tf + norm) for f, tf in counts.items())
    return total * p.boost


def _item_counts(profile: MatchProfile, item_id: int, p: _Passage) -> Counter[Feature]:
    """Features of one item found in a passage: its terms and its subject entities."""
    weights = profile.item_weights[item_id]
    counts: Counter[Feature] = Counter(h.payload for h in _visible(p.hits, weights))
    counts.update({name: n for name, n in p.entities.items() if name in weights})
    return counts


def _item_match(
    profile: MatchProfile, item_id: int, passages: Sequence[_Passage], avg: float
) -> ItemMatch | None:
    """The item's match over the passages, or None below threshold or without a strong term."""
    weights = profile.item_weights[item_id]
    scored = []
    for p in passages:
        counts = _item_counts(profile, item_id, p)
        if counts:
            scored.append((_bm25(counts, weights, p, avg), p, counts))
    scored.sort(key=lambda entry: -entry[0])
    score = _aggregate(s for s, _, _ in scored)
    matched = {f for _, _, counts in scored for f in counts}
    if score < profile.item_threshold or not matched & profile.item_strong[item_id]:
        return None
    evidence = tuple(_evidence(profile, p, counts) for _, p, counts in scored[:2])
    return ItemMatch(item_id, round(score, 3), evidence)


def _event_score(profile: MatchProfile, p: _Passage, avg: float) -> float:
    """A passage's event score: BM25 of the event query plus capped entity mentions."""
    counts = Counter(h.payload for h in _visible(p.hits, profile.event_weights))
    entities = sum(1 for name in p.entities if name in profile.required_entities)
    bonus = min(ENTITY_CAP, ENTITY_WEIGHT * entities)
    return _bm25(counts, profile.event_weights, p, avg) + bonus


def _aggregate(scores: Iterable[float]) -> float:
    """Best passage + 0.5 x second + 0.25 x third."""
    top = sorted(scores, reverse=True)[: len(DECAY)]
    return sum(weight * score for weight, score in zip(DECAY, top, strict=False))


def _gate(groups: Sequence[Sequence[str]], passages: Sequence[_Passage]) -> bool:
    """Some group's entities are all salient and appear within one window of sentences."""
    title: set[str] = set().union(*(p.entities for p in passages if p.boost != 1.0))
    body = [set(p.entities) for p in passages if p.boost == 1.0] or [set()]
    total: Counter[str] = sum((p.entities for p in passages), Counter())
    salient = title.union(*body[:LEAD]) | {name for name, n in total.items() if n >= 2}
    for group in groups:
        need = set(group) - title
        if not set(group) <= salient:
            continue
        for start in range(max(1, len(body) - WINDOW + 1)):
            if need <= set().union(*body[start : start + WINDOW]):
                return True
    return False


def _event_evidence(
    profile: MatchProfile, passages: Sequence[_Passage], scores: Sequence[float]
) -> tuple[str, ...]:
    """The two passages that speak most about the event."""
    ranked = sorted(range(len(passages)), key=lambda i: -scores[i])[:2]
    out = []
    for i in ranked:
        if scores[i] <= 0:
            break
        p = passages[i]
        counts: Counter[Feature] = Counter(
            h.payload for h in _visible(p.hits, profile.event_weights)
        )
        counts.update({n: c for n, c in p.entities.items() if n in profile.required_entities})
        out.append(_evidence(profile, p, counts))
    return tuple(out)


def _evidence(profile: MatchProfile, p: _Passage, counts: Mapping[Feature, int]) -> str:
    """ "[term, term] sentence", the sentence trimmed around its first matched term."""
    labels = [profile.labels[f] if isinstance(f, int) else f for f in counts]
    first = min((h.start for h in p.hits if h.payload in counts), default=0)
    offset = p.offsets[first] if p.offsets and first < len(p.offsets) else 0
    return f"{p.prefix}[{', '.join(labels)}] {_trim(p.text, offset)}"


def _trim(text: str, offset: int) -> str:
    """At most ~EVIDENCE_CHARS characters of `text`, keeping the words around `offset`."""
    if len(text) <= EVIDENCE_CHARS:
        return text
    start = max(0, min(offset - EVIDENCE_CHARS // 4, len(text) - EVIDENCE_CHARS))
    if start:
        space = text.find(" ", start, start + 20)
        start = space + 1 if space != -1 else start
    end = start + EVIDENCE_CHARS
    cut = text[start:end]
    if end < len(text):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > EVIDENCE_CHARS // 2 else cut) + "…"
    return ("…" if start else "") + cut
