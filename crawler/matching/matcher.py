"""Does an article (or an edit of a cited one) bear on an event, and on which watch items?

Two kinds of evidence, because either alone fails (measured on the development events of
`tests/fixtures/linking/`):

- **Meaning**, from sentence vectors (`encoder`): each sentence of the article is compared
  with each watch item and with the card's context (title, lede, summary sentences). This is
  what links a Spanish wire story on "the first container ship" to an English item about the
  port entering operation. But a story about the same kind of event in another country scores
  as high as a true follow-up.
- **Anchors**, the event's own places and names in the article: the card's countries in any
  language (`places`, CLDR), its other names ("Codelco", "BR-319"; Chinese names matched by
  vector). They gate: an article needs at least one salient anchor (in the title or lead, or
  named twice), and one whose salient places are all foreign to the card needs a name too.

The decision: three logistic models whose weights (`weights.json`) `bench/fit_matcher.py`
fitted on the development events only, so no constant here was set by hand on the test data:

- **On-topic** (`topic_features`): similarity of the best and top-3 sentences to the card
  context, best similarity to any item, places and names found, foreign places leading,
  length, how much the best item stands out, and the article's language. It also needs at
  least one salient anchor (in the title or the first `LEAD` sentences, or found twice).
- **Items** (`pair_features`): each item's score is its best sentence's similarity centred on
  that sentence's mean over all items, plus half the second best, plus `TERM_BONUS` when the
  sentence holds one of the item's own terms (a card name the item text uses, editor terms);
  the pair model weighs the score, whether it is the best, its distance to the best and to
  the rest. An on-topic article with no item linked is a related follow-up.
- **Edits** are scored on what changed (added and removed sentences, a new headline) by their
  own pair model: a cited article is on-topic by definition.

Every link keeps its evidence sentence. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crawler.matching.encoder import embed
from crawler.matching.places import find_places
from crawler.matching.profile import MatchProfile
from crawler.matching.result import ItemMatch, Relevance
from crawler.matching.text import (
    chinese_names,
    fold,
    has_cjk,
    latin_words,
    split_sentences,
    stem_key,
    writing_language,
)

__all__ = ["relate", "relate_edit"]

#: Logistic weights (bias first) fitted on the development events by bench/fit_matcher.py.
WEIGHTS: dict[str, list[float]] = json.loads((Path(__file__).parent / "weights.json").read_text())
TERM_BONUS = 0.08
NAME_SIMILARITY = 0.6
LEAD = 2
MAX_SENTENCES = 60
#: Changed sentences an edit is scored on (headline first, then added, then removed): the
#: encoder's cost is per sentence (about 2 ms each here), a rewrite changes a hundred, and
#: the first two dozen say what the rewrite is about.
MAX_EDIT_SENTENCES = 24
EVIDENCE_CHARS = 240


@dataclass(frozen=True)
class _Sentences:
    """An article's sentences (title first when given) with their vectors."""

    texts: tuple[str, ...]
    vectors: np.ndarray
    prefix: tuple[str, ...]


def relate(
    profile: MatchProfile, *, title: str | None, text: str, language: str | None = None
) -> Relevance:
    """How an article relates to the event of `profile`.

    Args:
        profile: from `build_profile`.
        title: the article's headline, if known (it counts as the first sentence).
        text: the article body (paragraphs separated by newlines).
        language: the page's language; unused (vectors and names work across languages),
            accepted so callers pass what they have.

    Returns:
        The relevance; `items` is empty when the article is off-topic.
    """
    del language
    heads = [title.strip()] if title and title.strip() else []
    sentences = _encode([*heads, *split_sentences(text)][:MAX_SENTENCES])
    if not sentences.texts:
        return Relevance(False, 0.0, (), ())
    anchors, places, names, foreign = _anchors(profile, sentences.texts)
    scores = _item_scores(profile, sentences)
    event_at, topic = topic_features(profile, sentences, places, names, foreign, scores)
    score = _probability(WEIGHTS["topic"], topic)
    on_topic = bool(anchors) and score >= 0.5
    items = _link(WEIGHTS["item"], scores, topic[0]) if on_topic else ()
    evidence = (_trim(sentences.texts[event_at]), "anchors: " + (", ".join(anchors) or "none"))
    return Relevance(on_topic, round(score, 3), items, evidence, _summary(scores))


def relate_edit(
    profile: MatchProfile,
    *,
    title: str | None,
    added: Sequence[str],
    removed: Sequence[str],
    language: str | None = None,
) -> tuple[ItemMatch, ...]:
    """The watch items an edit of a cited (so on-topic) article bears on.

    Args:
        profile: from `build_profile`.
        title: a new headline, when the edit changed it (scored like an added sentence);
            None when the headline did not change (an unchanged headline would link every
            edit to whatever the article is about).
        added: text the edit added (sentences or paragraphs).
        removed: text the edit removed.
        language: unused, see `relate`.

    Returns:
        Matches, best first; evidence sentences start with "+ " (added) or "- " (removed).
    """
    del language
    parts = [("+ ", s) for chunk in added for s in split_sentences(chunk)]
    parts += [("- ", s) for chunk in removed for s in split_sentences(chunk)]
    if title and title.strip():
        parts.insert(0, ("+ ", title.strip()))
    if not parts:
        return ()
    parts = parts[:MAX_EDIT_SENTENCES]
    sentences = _encode([s for _, s in parts], tuple(p for p, _ in parts))
    context = float((sentences.vectors @ profile.context_vectors.T).max())
    return _link(WEIGHTS["edit"], _item_scores(profile, sentences), context)


# --- evidence -------------------------------------------------------------------------------


def _encode(texts: Sequence[str], prefix: tuple[str, ...] | None = None) -> _Sentences:
    """Sentences with their vectors, empty ones dropped."""
    kept = [(i, t.strip()) for i, t in enumerate(texts) if t and t.strip()]
    marks = tuple((prefix or ("",) * len(texts))[i] for i, _ in kept)
    return _Sentences(tuple(t for _, t in kept), embed([t for _, t in kept]), marks)


def topic_features(
    profile: MatchProfile,
    sentences: _Sentences,
    places: int,
    names: int,
    foreign: bool,
    scores: Sequence[tuple[int, float, str]],
) -> tuple[int, list[float]]:
    """Where the article is most like the card, and the on-topic features.

    Features: best and top-3 mean sentence similarity to the card context, best similarity
    to any item, the number of the card's places and names found (capped at 3), whether
    foreign places lead the article, its length in sentences (log), the best item score
    (`_item_scores`: how much one item stands out), and whether the article is Chinese or
    Spanish (`text.writing_language`: its similarities to the English card run lower).
    """
    context = (sentences.vectors @ profile.event_vectors.T).max(axis=1)
    items = (sentences.vectors @ profile.item_vectors.T).max(axis=1)
    top3 = float(np.sort(context)[::-1][:3].mean())
    at = int(np.maximum(context, items).argmax())
    features = [
        float(context.max()),
        top3,
        float(items.max()),
        min(places, 3) / 3,
        min(names, 3) / 3,
        float(foreign),
        float(np.log1p(len(sentences.texts))),
        max((s for _, s, _ in scores), default=0.0),
    ]
    language = writing_language(" ".join(sentences.texts))
    features += [float(language == "zh"), float(language == "es")]
    return at, features


def pair_features(score: float, ranked: Sequence[float], context: float) -> list[float]:
    """Features of one (article, item) pair: its score, its rank, its lead over the rest."""
    best, rest = ranked[0], [r for r in ranked if r != score] or [0.0]
    return [
        score,
        float(score >= best),
        score - best,
        score - float(np.mean(rest)),
        context,
    ]


def _probability(weights: Sequence[float], features: Sequence[float]) -> float:
    """Logistic model: weights[0] is the bias, the rest multiply the features."""
    z = weights[0] + float(np.dot(weights[1:], features))
    return float(1 / (1 + np.exp(-z)))


def _item_scores(profile: MatchProfile, sentences: _Sentences) -> list[tuple[int, float, str]]:
    """Each item's score over the article, and its best sentence.

    A sentence's similarity to an item is centred on its mean similarity to all items (what
    is left is what makes it about *this* item rather than about the event), plus the term
    bonus; an item's score is its best sentence's plus half its second best.
    """
    sims = sentences.vectors @ profile.item_vectors.T
    sims = sims - sims.mean(axis=1, keepdims=True)
    keyed = [(fold(t), stem_key(t)) for t in sentences.texts]
    out = []
    for col, item_id in enumerate(profile.item_ids):
        terms = profile.item_terms[col]
        bonus = np.array([TERM_BONUS * _holds_term(f, k, terms) for f, k in keyed])
        scored = sims[:, col] + bonus
        order = np.argsort(scored)[::-1]
        score = float(scored[order[0]]) + (0.5 * float(scored[order[1]]) if len(order) > 1 else 0)
        row = int(order[0])
        out.append((item_id, score, sentences.prefix[row] + sentences.texts[row]))
    return out


def _holds_term(folded: str, stemmed: str, terms: Sequence[str]) -> bool:
    """Whether a sentence holds a term: Chinese by substring, Latin by whole stems."""
    return any(term in (folded if has_cjk(term) else stemmed) for term in terms)


def _link(
    weights: Sequence[float], scores: list[tuple[int, float, str]], context: float
) -> tuple[ItemMatch, ...]:
    """The items whose pair model says yes, best first."""
    ranked = sorted(scores, key=lambda s: -s[1])
    values = [s for _, s, _ in ranked]
    return tuple(
        ItemMatch(item_id, round(score, 3), (_trim(sentence),))
        for item_id, score, sentence in ranked
        if _probability(weights, pair_features(score, values, context)) >= 0.5
    )


def _summary(scores: list[tuple[int, float, str]]) -> tuple[tuple[int, float, str], ...]:
    """Every item's rounded score and trimmed best sentence, in item order."""
    return tuple((i, round(s, 3), _trim(t)) for i, s, t in scores)


def _anchors(profile: MatchProfile, texts: Sequence[str]) -> tuple[list[str], int, int, bool]:
    """Salient anchors found (places and names), their counts, whether foreign places lead.

    Salient: in the title or the first `LEAD` sentences after it, or found twice.
    """
    found: Counter[str] = Counter()
    lead: set[str] = set()
    places: Counter[str] = Counter()
    lead_places: set[str] = set()
    tagged = [chinese_names(sentence) for sentence in texts]
    known = _card_names_of(profile, {name for names in tagged for name in names})
    for index, sentence in enumerate(texts):
        here = find_places(sentence)
        places.update(here)
        names = _names_in(profile, sentence, [known[n] for n in tagged[index] if known[n]])
        hits = [code for code in here if code in profile.places] + names
        found.update(hits)
        if index <= LEAD:
            lead.update(hits)
            lead_places.update(here)
    salient = [a for a in found if a in lead or found[a] >= 2]
    foreign = {p for p in places if (p in lead_places or places[p] >= 2)} - set(profile.places)
    names = sum(a in profile.names for a in salient)
    return salient, len(salient) - names, names, bool(foreign)


def _card_names_of(profile: MatchProfile, tagged: set[str]) -> dict[str, str | None]:
    """For each name jieba tagged in the article, the card name it is most like, if close.

    All of an article's tagged names are embedded in one call (the encoder's cost is per
    call more than per text).
    """
    ordered = sorted(tagged)
    if not ordered or not len(profile.name_vectors):
        return dict.fromkeys(ordered)
    sims = embed(ordered) @ profile.name_vectors.T
    best = sims.argmax(axis=1)
    return {
        name: profile.names[col] if sims[row, col] >= NAME_SIMILARITY else None
        for row, (name, col) in enumerate(zip(ordered, best, strict=True))
    }


def _names_in(profile: MatchProfile, sentence: str, by_vector: list[str]) -> list[str]:
    """The card's names a sentence mentions: by folded token, or (Chinese) by vector."""
    words = set(latin_words(sentence))
    folded = fold(sentence)
    hits = [
        name
        for name, tokens in zip(profile.names, profile.name_tokens, strict=True)
        if (tokens & words) or (has_cjk(name) and fold(name) in folded)
    ]
    return hits + [name for name in dict.fromkeys(by_vector) if name not in hits]


def _trim(text: str) -> str:
    """At most ~EVIDENCE_CHARS characters of a sentence, cut at a space, with an ellipsis."""
    if len(text) <= EVIDENCE_CHARS:
        return text
    cut = text[:EVIDENCE_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > EVIDENCE_CHARS // 2 else cut) + "…"
