"""Build a `MatchProfile`: an event's terms, entities and weights, analysed once.

Split from `crawler.matching.matcher` because building is
where the editor's overrides and the automatic terms meet; scoring never looks back at text
of the card. See `crawler.matching.matcher` for what the weights mean and why.

Automatic terms come from the English text of each watch item (and of the event title):
runs of content words between stopwords, punctuation, entity aliases and generic
watch-item wording; every two- and three-word run becomes a phrase term (strong), every
single word a supporting term. Chinese and Spanish vocabulary comes from the editor.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.matching.lexical.text import PhraseIndex, add_cjk_words, analyse, fold_latin, stem
from crawler.matching.lexical.vocab import GENERIC_ITEM_WORDS, STOPWORDS
from crawler.matching.terms import normalise_overrides

STRONG = 1.0
SUPPORT = 0.4
SUBJECT = 0.5
EVENT_THRESHOLD = 2.0
ITEM_THRESHOLD = 0.8
MAX_PHRASE = 3

Feature = int | str
"""A term id (int) or an entity name (str) counted in a passage."""

_CHUNK_RE = re.compile(r"[,.;:!?()\[\]\"“”]+|\s[-–—]\s")
_RAW_WORD_RE = re.compile(r"[^\W_]+")
_LATIN_RE = re.compile(r"[a-z0-9ñ]+")


@dataclass(frozen=True)
class ItemTerms:
    """A watch item as the matcher needs it."""

    id: int
    text: str
    terms: dict[str, tuple[str, ...]]
    """Editor terms by language code; {} when none."""


@dataclass(frozen=True, eq=False)
class MatchProfile:
    """Everything `relate` needs about one event, analysed once."""

    terms: PhraseIndex[int]
    labels: tuple[str, ...]
    """Term id -> the term as written (for evidence)."""
    entities: PhraseIndex[tuple[str, bool]]
    """Alias tokens -> (entity name, is a `not` phrase)."""
    item_weights: Mapping[int, Mapping[Feature, float]]
    """Item id -> feature -> weight x IDF over the items."""
    item_strong: Mapping[int, frozenset[Feature]]
    item_require: Mapping[int, tuple[tuple[str, ...], ...]]
    event_weights: Mapping[Feature, float]
    require: tuple[tuple[str, ...], ...]
    required_entities: frozenset[str]
    event_threshold: float = EVENT_THRESHOLD
    item_threshold: float = ITEM_THRESHOLD
    item_ids: tuple[int, ...] = field(default=())


def build_profile(
    *,
    title: str,
    summary: str,
    entities: Sequence[str],
    entity_terms: Mapping[str, Sequence[str]],
    items: Sequence[ItemTerms],
    overrides: Mapping[str, Any] | None = None,
) -> MatchProfile:
    """Analyse an event's terms once, for many `relate` calls.

    Args:
        title: the event card's title (its single words become event vocabulary).
        summary: the card summary; kept for the signature's stability, not scored (it names
            every item at once, so it cannot tell items apart).
        entities: the card's entity names.
        entity_terms: aliases per entity name (the card's YAML `entity_terms`).
        items: the active watch items.
        overrides: editor overrides (`load_overrides` format, or its stored JSON form).

    Returns:
        The profile.

    Raises:
        ValueError: overrides malformed, or a `require` group names an unknown entity.
    """
    del summary
    spec = normalise_overrides(overrides or {})
    groups = _entity_groups(entities, entity_terms, spec["entities"])
    add_cjk_words(_all_phrases(groups, items, spec))
    entity_index = PhraseIndex(_entity_entries(groups))
    require = _require(spec["require"], entities, groups, "require")
    item_require = {item.id: _item_require(item.id, spec, groups) or require for item in items}
    table = _TermTable()
    title_words = frozenset(analyse(title).words)
    base = {
        item.id: _item_base(
            item, _item_spec(spec, item.id), table, entity_index, title_words, require
        )
        for item in items
    }
    item_weights, item_strong = _idf_weights(base)
    event_weights = _event_weights(title, spec["event_terms"], base, table, entity_index)
    return MatchProfile(
        terms=PhraseIndex(table.entries()),
        labels=tuple(table.labels),
        entities=entity_index,
        item_weights=item_weights,
        item_strong=item_strong,
        item_require=item_require,
        event_weights=event_weights,
        require=require,
        required_entities=frozenset(
            n for gs in (require, *item_require.values()) for g in gs for n in g
        ),
        event_threshold=spec["thresholds"].get("event", EVENT_THRESHOLD),
        item_threshold=spec["thresholds"].get("item", ITEM_THRESHOLD),
        item_ids=tuple(item.id for item in items),
    )


def _item_spec(spec: Mapping[str, Any], item_id: int) -> Mapping[str, Any]:
    """The overrides of one item ({} when the editor wrote none)."""
    return spec["items"].get(str(item_id), {})


def _item_require(
    item_id: int, spec: Mapping[str, Any], groups: Mapping[str, Any]
) -> tuple[tuple[str, ...], ...]:
    """An item's own required groups; empty when it inherits the event's."""
    where = f"items.{item_id}.require"
    return _require(_item_spec(spec, item_id).get("require", []), (), groups, where)


class _TermTable:
    """Analysed term key -> id, keeping the first spelling as the label."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, ...], int] = {}
        self.labels: list[str] = []

    def add(self, label: str) -> int | None:
        """The id of `label`'s analysed form; None when nothing content-bearing is left."""
        key = analyse(label).words
        if not key:
            return None
        if key not in self.ids:
            self.ids[key] = len(self.labels)
            self.labels.append(label)
        return self.ids[key]

    def entries(self) -> list[tuple[tuple[str, ...], int]]:
        """(key, id) pairs for the phrase index."""
        return list(self.ids.items())


def _entity_groups(
    entities: Sequence[str], entity_terms: Mapping[str, Sequence[str]], extra: Mapping[str, Any]
) -> dict[str, dict[str, list[str]]]:
    """Entity name -> {aliases, not}: the card's entities and aliases, then the overrides'."""
    groups: dict[str, dict[str, list[str]]] = {}
    for name in (*entities, *entity_terms):
        aliases = [name, *entity_terms.get(name, ())]
        group = groups.setdefault(name, {"aliases": [], "not": []})
        group["aliases"] += [a for a in aliases if a not in group["aliases"]]
    for name, spec in extra.items():
        group = groups.setdefault(name, {"aliases": [], "not": []})
        group["aliases"] += [a for a in spec["aliases"] if a not in group["aliases"]]
        group["not"] += spec["not"]
    return groups


def _entity_entries(
    groups: Mapping[str, Mapping[str, list[str]]],
) -> Iterable[tuple[tuple[str, ...], tuple[str, bool]]]:
    """Phrase-index entries for every alias and `not` phrase."""
    for name, group in groups.items():
        for blocked, phrases in ((False, group["aliases"]), (True, group["not"])):
            for phrase in phrases:
                yield analyse(phrase).words, (name, blocked)


def _all_phrases(groups: Mapping[str, Any], items: Sequence[ItemTerms], spec: Mapping[str, Any]):
    """Every phrase an editor wrote (for jieba's dictionary)."""
    for group in groups.values():
        yield from (*group["aliases"], *group["not"])
    for item in items:
        for words in item.terms.values():
            yield from words
    for item_spec in spec["items"].values():
        for kind in ("terms", "support"):
            for words in item_spec[kind].values():
                yield from words
    for words in spec["event_terms"].values():
        yield from words


def _require(
    groups: list[list[str]], entities: Sequence[str], known: Mapping[str, Any], where: str
) -> tuple[tuple[str, ...], ...]:
    """Required co-occurrence groups; by default any one of the card's entities."""
    for group in groups:
        unknown = [name for name in group if name not in known]
        if unknown:
            raise ValueError(f"overrides: {where}: unknown entity {', '.join(unknown)}")
    if groups or where != "require":
        return tuple(tuple(g) for g in groups)
    return tuple((name,) for name in entities)


def _item_base(
    item: ItemTerms,
    spec: Mapping[str, Any],
    table: _TermTable,
    entity_index: PhraseIndex[tuple[str, bool]],
    title_words: frozenset[str],
    require: tuple[tuple[str, ...], ...],
) -> dict[Feature, float]:
    """One item's features with their base weight (before IDF)."""
    weights: dict[Feature, float] = {}
    excluded = {table.add(label) for label in spec.get("exclude", [])}
    for label, weight in auto_terms(item.text, entity_index, skip_singles=title_words):
        term = table.add(label)
        if term is not None and term not in excluded:
            weights[term] = max(weights.get(term, 0.0), weight)
    editor = [
        *(w for ws in item.terms.values() for w in ws),
        *(w for ws in spec.get("terms", {}).values() for w in ws),
    ]
    _add_all(weights, table, editor, STRONG)
    _add_all(weights, table, (w for ws in spec.get("support", {}).values() for w in ws), SUPPORT)
    in_require = {name for group in require for name in group}
    for name in mentions(analyse(item.text).words, entity_index):
        if name not in in_require:
            weights[name] = SUBJECT
    return weights


def _add_all(
    weights: dict[Feature, float], table: _TermTable, labels: Iterable[str], weight: float
) -> None:
    """Add terms at `weight`, keeping a higher weight a term already has."""
    for label in labels:
        term = table.add(label)
        if term is not None:
            weights[term] = max(weights.get(term, 0.0), weight)


def _idf_weights(
    base: Mapping[int, Mapping[Feature, float]],
) -> tuple[dict[int, dict[Feature, float]], dict[int, frozenset[Feature]]]:
    """Weights x IDF over the items, and each item's strong (linking) features."""
    n = len(base)
    df = Counter(f for weights in base.values() for f in weights)
    weighted, strong = {}, {}
    for item_id, weights in base.items():
        weighted[item_id] = {f: w * _idf(n, df[f]) for f, w in weights.items()}
        strong[item_id] = frozenset(
            f for f, w in weights.items() if w >= STRONG and df[f] <= max(1, n // 2)
        )
    return weighted, strong


def _idf(n: int, df: int) -> float:
    """Lucene's non-negative BM25 IDF."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _event_weights(
    title: str,
    event_terms: Mapping[str, list[str]],
    base: Mapping[int, Mapping[Feature, float]],
    table: _TermTable,
    entity_index: PhraseIndex[tuple[str, bool]],
) -> dict[Feature, float]:
    """The event query: every item term, the title's terms and the editor's event terms."""
    weights: dict[Feature, float] = {}
    for item_weights in base.values():
        for f, w in item_weights.items():
            if isinstance(f, int):
                weights[f] = max(weights.get(f, 0.0), w)
    for label, weight in auto_terms(title, entity_index, skip_singles=frozenset()):
        _add_all(weights, table, [label], weight)
    _add_all(weights, table, (w for ws in event_terms.values() for w in ws), STRONG)
    return weights


def mentions(words: Sequence[str], entity_index: PhraseIndex[tuple[str, bool]]) -> Counter[str]:
    """Entity mentions, leftmost-longest per entity; `not` phrases hide what they cover."""
    taken: dict[str, int] = {}
    counts: Counter[str] = Counter()
    hits = sorted(entity_index.find(words), key=lambda h: (h.start, h.start - h.end))
    for hit in hits:
        name, blocked = hit.payload
        if hit.start >= taken.get(name, 0):
            taken[name] = hit.end
            if not blocked:
                counts[name] += 1
    return counts


def auto_terms(
    text: str, entity_index: PhraseIndex[tuple[str, bool]], *, skip_singles: frozenset[str]
) -> list[tuple[str, float]]:
    """Automatic (label, weight) terms of an English item or title text.

    Args:
        text: the watch item's (or the title's) text.
        entity_index: entity aliases; their words break runs and are never terms.
        skip_singles: stems that must not become single-word terms (the title's words).

    Returns:
        Phrases of 2-3 adjacent content words at `STRONG`, single words at `SUPPORT`.
    """
    out: list[tuple[str, float]] = []
    for chunk in _CHUNK_RE.split(text):
        for run in _content_runs(chunk, entity_index):
            out += _run_terms(run, skip_singles)
    return out


def _content_runs(
    chunk: str, entity_index: PhraseIndex[tuple[str, bool]]
) -> list[list[tuple[str, str]]]:
    """Runs of adjacent (word, stem) content words; stopwords and entity aliases split them."""
    folded_words = ((raw, fold_latin(raw)) for raw in _RAW_WORD_RE.findall(chunk))
    words = [(raw, folded) for raw, folded in folded_words if _LATIN_RE.fullmatch(folded)]
    content = [i for i, (_, folded) in enumerate(words) if folded not in STOPWORDS]
    stems = [stem(words[i][1]) for i in content]
    covered = {content[j] for hit in entity_index.find(stems) for j in range(hit.start, hit.end)}
    runs: list[list[tuple[str, str]]] = [[]]
    for i, (raw, folded) in enumerate(words):
        if folded in STOPWORDS or folded in GENERIC_ITEM_WORDS or i in covered:
            runs.append([])
        else:
            runs[-1].append((raw, stem(folded)))
    return [run for run in runs if run]


def _run_terms(run: list[tuple[str, str]], skip_singles: frozenset[str]) -> list[tuple[str, float]]:
    """The phrases and single words of one run."""
    out = []
    for size in range(2, MAX_PHRASE + 1):
        for start in range(len(run) - size + 1):
            out.append((" ".join(raw for raw, _ in run[start : start + size]), STRONG))
    for raw, key in run:
        if not key.isdigit() and key not in skip_singles:
            out.append((raw, SUPPORT))
    return out
