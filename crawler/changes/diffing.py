"""Diff two versions of an article: paragraphs aligned first, then words inside changed ones.

Why two levels: a paragraph diff (one character per distinct paragraph, as diff-match-patch's
`diff_linesToChars` does for lines) is fast even on 200 KB texts and lets a moved paragraph read
as moved; word diffs then run only on paragraph pairs that are similar, so unrelated texts never
reach diff-match-patch's slow path (STACK-NOTES: 92 s without a timeout). When the bodies share
too little the diff says `rewritten` and carries no word diff at all.

Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from diff_match_patch import diff_match_patch

from crawler.changes.segment import loose_key, rough_words, tokenize
from crawler.extract.article import HEADLINE_VARIANTS, ArticleText
from crawler.extract.furniture import is_furniture, strip_editor_codes

logger = logging.getLogger(__name__)

#: Below this word overlap (Dice, 0..1) two bodies count as a rewrite, not an edit.
REWRITE_SIMILARITY = 0.35
#: Two paragraphs at least this similar are one paragraph that changed, not a removal + addition.
PAIR_SIMILARITY = 0.5
#: Above this many removed x added paragraph comparisons, pair only within each run.
MAX_PAIR_COMPARISONS = 40_000
#: Fewer than one shared paragraph in this many: the bodies are unrelated, not edited.
SHARED_PARAGRAPHS = 20
#: In a run too big for all pairs, a paragraph is compared with this many neighbours each side.
PAIR_WINDOW = 25

Item = tuple[int, str]
"""A paragraph with its index in the article."""
ParagraphRun = tuple[list[Item], list[Item]]
"""Removed and added paragraphs between two runs of equal ones."""

_OPS = {
    diff_match_patch.DIFF_EQUAL: "equal",
    diff_match_patch.DIFF_INSERT: "insert",
    diff_match_patch.DIFF_DELETE: "delete",
}
#: Supplements `crawler.extract.furniture` for the comparison: a lone sign-off ("Enditem", "(完)",
#: "【责任编辑：X】") and feed tails glued inside a paragraph ("Clique aqui para acessar a
#: matéria na íntegra...", "VÍDEOS: ..."), which come and go between fetches of the same story.
_SIGN_OFF = re.compile(
    r"(?:enditem|end item)(?:/[a-z]{1,6})*|[(（]\s*完\s*[)）]"
    r"|[【\[]\s*(?:责任编辑|責任編輯)[^】\]]{0,20}[】\]]",
    re.IGNORECASE,
)
_FEED_TAIL = re.compile(
    r"\s*(?:Clique aqui para acessar a matéria na íntegra[^.]*\.|VÍDEOS?: .*$)", re.IGNORECASE
)


def strip_furniture(paragraph: str) -> str:
    """The paragraph without editors' codes and feed tails; "" when it is furniture itself."""
    text = _FEED_TAIL.sub("", strip_editor_codes(paragraph)).strip()
    if not text or is_furniture(text) or _SIGN_OFF.fullmatch(text):
        return ""
    return text


@dataclass(frozen=True)
class Segment:
    """One run of a word diff."""

    op: str
    """"equal", "insert" or "delete"."""
    text: str


@dataclass(frozen=True)
class ParagraphChange:
    """How one paragraph of the old version relates to the new one."""

    op: str
    """"equal", "added", "removed", "moved" or "changed"."""
    old_index: int | None
    new_index: int | None
    old: str | None
    new: str | None
    segments: tuple[Segment, ...] = ()
    """Word diff for "changed"; empty otherwise."""


@dataclass(frozen=True)
class ArticleDiff:
    """Everything that differs between two versions, ready to classify and to store."""

    paragraphs: tuple[ParagraphChange, ...]
    headlines: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Variant -> (old, new) for variants that changed; the page title is under "headline"."""
    byline: tuple[str | None, str | None] | None = None
    dates: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """"published" / "modified" -> (old, new) when the stamp moved."""
    rewritten: bool = False
    """The bodies share too little for a meaningful word diff."""
    similarity: float = 1.0
    """Word overlap of the two bodies (Dice coefficient over word counts), 0..1."""

    @property
    def is_empty(self) -> bool:
        """True when nothing at all differs."""
        body_same = all(change.op == "equal" for change in self.paragraphs)
        return body_same and not (self.headlines or self.byline or self.dates)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form for the database (segments as [op, text] pairs)."""
        return {
            "paragraphs": [_change_to_json(change) for change in self.paragraphs],
            "headlines": {name: list(pair) for name, pair in self.headlines.items()},
            "byline": list(self.byline) if self.byline else None,
            "dates": {name: list(pair) for name, pair in self.dates.items()},
            "rewritten": self.rewritten,
            "similarity": self.similarity,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArticleDiff:
        """Rebuild a diff stored with `to_json`."""
        return cls(
            paragraphs=tuple(_change_from_json(item) for item in data["paragraphs"]),
            headlines={name: (pair[0], pair[1]) for name, pair in data["headlines"].items()},
            byline=tuple(data["byline"]) if data.get("byline") else None,  # type: ignore[arg-type]
            dates={name: (pair[0], pair[1]) for name, pair in data["dates"].items()},
            rewritten=bool(data["rewritten"]),
            similarity=float(data["similarity"]),
        )


def _change_to_json(change: ParagraphChange) -> dict[str, Any]:
    """One paragraph change as plain JSON values."""
    return {
        "op": change.op,
        "old_index": change.old_index,
        "new_index": change.new_index,
        "old": change.old,
        "new": change.new,
        "segments": [[segment.op, segment.text] for segment in change.segments],
    }


def _change_from_json(item: dict[str, Any]) -> ParagraphChange:
    """Inverse of `_change_to_json`."""
    segments = tuple(Segment(op, text) for op, text in item.get("segments", ()))
    return ParagraphChange(
        item["op"], item["old_index"], item["new_index"], item["old"], item["new"], segments
    )


def _engine() -> diff_match_patch:
    """A diff-match-patch instance with the default 1 s timeout kept on purpose."""
    engine = diff_match_patch()
    engine.Diff_Timeout = 1.0
    return engine


def _encode(sequences: list[list[str]]) -> tuple[list[str], list[str]]:
    """Map every distinct item to one character, as `diff_linesToChars` does for lines."""
    alphabet: dict[str, str] = {}
    items: list[str] = []
    encoded = []
    for sequence in sequences:
        chars = []
        for item in sequence:
            if item not in alphabet:
                alphabet[item] = chr(len(items) + 0x100)
                items.append(item)
            chars.append(alphabet[item])
        encoded.append("".join(chars))
    return encoded, items


def word_diff(a: str, b: str, language: str | None = None) -> tuple[Segment, ...]:
    """Diff two texts word by word (Chinese: jieba words) with semantic cleanup.

    Args:
        a: Old text.
        b: New text.
        language: ISO 639-1 code; informative only, the script of the text decides the tokens.

    Returns:
        Segments whose "equal" + "delete" texts join to `a` and "equal" + "insert" texts to `b`.
    """
    engine = _engine()
    (left, right), items = _encode([tokenize(a), tokenize(b)])
    diffs = engine.diff_main(left, right, False)
    engine.diff_cleanupSemantic(diffs)
    logger.debug("word diff (%s): %d runs", language or "?", len(diffs))
    base = 0x100
    return tuple(
        Segment(_OPS[op], "".join(items[ord(char) - base] for char in chars))
        for op, chars in diffs
        if chars
    )


def _body(article: ArticleText) -> list[tuple[int, str]]:
    """Paragraphs worth diffing, with their index in `article.paragraphs`."""
    kept = ((index, strip_furniture(text)) for index, text in enumerate(article.paragraphs))
    return [(index, text) for index, text in kept if text]


def _headline_pairs(old: ArticleText, new: ArticleText) -> dict[str, tuple[str | None, str | None]]:
    """Headline variants (and the page title as "headline") whose text changed."""
    pairs = {"headline": (old.title, new.title)}
    for name in HEADLINE_VARIANTS:
        pairs[name] = (old.headlines.get(name), new.headlines.get(name))
    return {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}


def _dates(old: ArticleText, new: ArticleText) -> dict[str, tuple[str | None, str | None]]:
    """Publication and modification stamps that moved."""
    pairs = {"modified": (old.modified, new.modified)}
    if not (old.published_guessed or new.published_guessed):  # a guess moving is not news
        pairs["published"] = (old.published, new.published)
    return {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}


def diff_versions(old: ArticleText, new: ArticleText) -> ArticleDiff:
    """Diff two extractions of the same article.

    Args:
        old: The earlier version.
        new: The later version.

    Returns:
        Paragraph changes (with word diffs inside changed paragraphs), changed headline
        variants, byline and date stamps, the body similarity and the `rewritten` flag.
    """
    old_body, new_body = _body(old), _body(new)
    equal, runs = _paragraph_diff(old_body, new_body)
    similarity = _similarity(equal, runs)
    rewritten = bool(old_body and new_body) and similarity < REWRITE_SIMILARITY
    changes = equal + _resolve_runs(runs, pair=not rewritten, language=new.language)
    byline = (old.byline, new.byline) if old.byline != new.byline else None
    return ArticleDiff(
        paragraphs=tuple(sorted(changes, key=_order)),
        headlines=_headline_pairs(old, new),
        byline=byline,
        dates=_dates(old, new),
        rewritten=rewritten,
        similarity=round(similarity, 4),
    )


def _paragraph_diff(
    old: list[Item], new: list[Item]
) -> tuple[list[ParagraphChange], list[ParagraphRun]]:
    """Equal paragraphs, and the runs of removed/added paragraphs between them (runs)."""
    engine = _engine()
    (left, right), _ = _encode([[loose_key(t) for _, t in old], [loose_key(t) for _, t in new]])
    equal: list[ParagraphChange] = []
    shared = set(left) & set(right)
    if len(shared) * SHARED_PARAGRAPHS < min(len(set(left)), len(set(right))):
        # Next to nothing in common (a rewrite, another story at the URL): skip the O(N·D)
        # bisection, which costs a quarter of a second on long unrelated pages.
        return equal, [(list(old), list(new))] if old or new else []
    runs: list[ParagraphRun] = [([], [])]
    i = j = 0
    for op, chars in engine.diff_main(left, right, False):
        if op == diff_match_patch.DIFF_EQUAL:
            pairs = zip(old[i : i + len(chars)], new[j : j + len(chars)], strict=True)
            equal.extend(ParagraphChange("equal", oi, ni, ot, nt) for (oi, ot), (ni, nt) in pairs)
            i, j = i + len(chars), j + len(chars)
            runs.append(([], []))
        elif op == diff_match_patch.DIFF_DELETE:
            runs[-1][0].extend(old[i : i + len(chars)])
            i += len(chars)
        else:
            runs[-1][1].extend(new[j : j + len(chars)])
            j += len(chars)
    return equal, [run for run in runs if run[0] or run[1]]


def _similarity(equal: list[ParagraphChange], runs: list[ParagraphRun]) -> float:
    """Dice over word counts of the bodies; equal paragraphs count in full without a look."""
    shared = sum(len(rough_words(change.old or "")) for change in equal)
    old_counts = Counter(w for run, _ in runs for _, text in run for w in rough_words(text))
    new_counts = Counter(w for _, run in runs for _, text in run for w in rough_words(text))
    total = 2 * shared + old_counts.total() + new_counts.total()
    common = (old_counts & new_counts).total()
    return 1.0 if total == 0 else 2 * (shared + common) / total


def _order(change: ParagraphChange) -> tuple[float, float]:
    """Sort changes in reading order of the new version, removals where they used to be."""
    if change.new_index is not None:
        return (change.new_index, 0)
    return ((change.old_index or 0) - 0.5, 0)


def _resolve_runs(
    runs: list[ParagraphRun], *, pair: bool, language: str | None
) -> list[ParagraphChange]:
    """Turn removed/added runs of the paragraph diff into moves, changes, removals, additions."""
    changes = [_regrouped(run, language) for run in runs if _is_regrouping(run)]
    runs = [run for run in runs if not _is_regrouping(run)]
    removed = [item for old_run, _ in runs for item in old_run]
    added = [item for _, new_run in runs for item in new_run]
    for old_item, new_item in _match_moves(removed, added):
        changes.append(ParagraphChange("moved", old_item[0], new_item[0], old_item[1], new_item[1]))
        removed.remove(old_item)
        added.remove(new_item)
    if pair:
        for old_item, new_item in _pair_similar(removed, added, runs):
            segments = word_diff(old_item[1], new_item[1], language)
            changes.append(
                ParagraphChange(
                    "changed", old_item[0], new_item[0], old_item[1], new_item[1], segments
                )
            )
            removed.remove(old_item)
            added.remove(new_item)
    changes.extend(ParagraphChange("removed", i, None, t, None) for i, t in removed)
    changes.extend(ParagraphChange("added", None, i, None, t) for i, t in added)
    return changes


def _is_regrouping(run: ParagraphRun) -> bool:
    """True when paragraphs were only split or merged (same text, other breaks)."""
    old_run, new_run = run
    if not old_run or not new_run or len(old_run) == len(new_run):
        return False
    return loose_key("".join(t for _, t in old_run)) == loose_key("".join(t for _, t in new_run))


def _regrouped(run: ParagraphRun, language: str | None) -> ParagraphChange:
    """A split or merge as one "changed" paragraph whose word diff shows only the breaks."""
    old_text = "\n".join(t for _, t in run[0])
    new_text = "\n".join(t for _, t in run[1])
    segments = word_diff(old_text, new_text, language)
    return ParagraphChange("changed", run[0][0][0], run[1][0][0], old_text, new_text, segments)


def _match_moves(removed: list[Item], added: list[Item]) -> list[tuple[Item, Item]]:
    """Pairs of a removed and an added paragraph with the same text: the paragraph moved."""
    waiting: dict[str, list[Item]] = {}
    for item in added:
        waiting.setdefault(loose_key(item[1]), []).append(item)
    pairs = []
    for item in removed:
        candidates = waiting.get(loose_key(item[1]))
        if candidates:
            pairs.append((item, candidates.pop(0)))
    return pairs


def _pair_similar(
    removed: list[Item], added: list[Item], runs: list[ParagraphRun]
) -> list[tuple[Item, Item]]:
    """Greedy best-first pairing of removed and added paragraphs that share most words."""
    words = {item: frozenset(rough_words(item[1])) for item in removed + added}
    scored = []
    for old_item, new_item in _candidates(removed, added, runs):
        old_words, new_words = words.get(old_item), words.get(new_item)
        if not old_words or not new_words:
            continue
        score = 2 * len(old_words & new_words) / (len(old_words) + len(new_words))
        if score >= PAIR_SIMILARITY:
            scored.append((-score, abs(old_item[0] - new_item[0]), old_item, new_item))
    scored.sort(key=lambda entry: entry[:2])
    pairs: list[tuple[Item, Item]] = []
    taken_old: set[Item] = set()
    taken_new: set[Item] = set()
    for _, _, old_item, new_item in scored:
        if old_item not in taken_old and new_item not in taken_new:
            pairs.append((old_item, new_item))
            taken_old.add(old_item)
            taken_new.add(new_item)
    return pairs


def _candidates(
    removed: list[Item], added: list[Item], runs: list[ParagraphRun]
) -> Iterator[tuple[Item, Item]]:
    """Pairs worth comparing, within a budget: all of them for ordinary edits; within each
    run for many edits; and within a window of relative position for a huge run (a rewrite
    of a long page), where comparing everything with everything would take seconds."""
    if len(removed) * len(added) <= MAX_PAIR_COMPARISONS:
        yield from ((o, n) for o in removed for n in added)
        return
    for old_run, new_run in runs:
        if len(old_run) * len(new_run) <= MAX_PAIR_COMPARISONS:
            yield from ((o, n) for o in old_run for n in new_run)
            continue
        scale = len(new_run) / len(old_run)
        for position, old_item in enumerate(old_run):
            centre = round(position * scale)
            low, high = max(0, centre - PAIR_WINDOW), centre + PAIR_WINDOW + 1
            yield from ((old_item, new_item) for new_item in new_run[low:high])


@dataclass(frozen=True)
class Hunk:
    """One stretch of deleted and/or inserted words between two equal runs."""

    deleted: str
    inserted: str
    old_start: int
    """Offset of `deleted` in the old text."""
    new_start: int
    """Offset of `inserted` in the new text."""


def hunks(segments: tuple[Segment, ...]) -> list[Hunk]:
    """Group consecutive delete/insert segments, with their offsets in old and new text.

    Args:
        segments: A word diff.

    Returns:
        One hunk per stretch between two equal runs, in text order.
    """
    found: list[Hunk] = []
    old_at = new_at = 0
    deleted = inserted = ""
    for segment in (*segments, Segment("equal", "")):
        if segment.op == "equal":
            if deleted or inserted:
                found.append(Hunk(deleted, inserted, old_at - len(deleted), new_at - len(inserted)))
                deleted = inserted = ""
            old_at, new_at = old_at + len(segment.text), new_at + len(segment.text)
        elif segment.op == "delete":
            deleted, old_at = deleted + segment.text, old_at + len(segment.text)
        else:
            inserted, new_at = inserted + segment.text, new_at + len(segment.text)
    return found
