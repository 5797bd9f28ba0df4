"""Classify the difference between two versions: what kind of change, and does it matter.

Rules, in the order they are applied to each changed stretch of words ("hunk"):

1. case, punctuation, quote marks or spacing only -> `cosmetic`;
2. a number (digits, number words, Chinese numerals), a quotation, a negation, or a capitalised
   name that is new to the article changed -> `edit`;
3. at most two words, each off by one character (a swap of neighbours counts as one;
   Chinese: one character of one word), or only articles/prepositions/conjunctions added,
   dropped or swapped -> `minor`;
4. anything else -> `edit`.

A paragraph whose words are the same but reordered is `minor`, and so is a paragraph that only
moved (it says what it said, elsewhere). Added or removed paragraphs are `edit`, except
correction notices, which make the change a `correction`. A headline change is always kind
`headline`; it is significant when the page title changed at `edit` level, or when another
variant (og:title, <title>, JSON-LD) changed at `edit` level in more than its decoration (site
name, kicker) around the title. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crawler.changes.diffing import (
    ArticleDiff,
    Hunk,
    ParagraphChange,
    diff_versions,
    hunks,
    word_diff,
)
from crawler.changes.segment import (
    FUNCTION_WORDS,
    edit_distance,
    has_cjk,
    is_correction_notice,
    letters_key,
    loose_key,
    negations,
    numbers,
    quote_at,
    sentences,
    tokenize,
    touched,
    words,
)
from crawler.extract.article import ArticleText

logger = logging.getLogger(__name__)

#: At most this many sentences are kept in `added` / `removed` (a rewrite would list them all).
MAX_SENTENCES = 100


class ChangeKind(StrEnum):
    """The closed set of change kinds the newsroom sees."""

    HEADLINE = "headline"
    CORRECTION = "correction"
    EDIT = "edit"
    MINOR = "minor"
    COSMETIC = "cosmetic"
    BYLINE = "byline"
    DATES = "dates"
    REMOVED = "removed"
    RESTORED = "restored"
    REVERTED = "reverted"  # back to an earlier version; significant if it undoes a reported one
    REBASELINED = "rebaselined"  # the text changed with the extractor: a new baseline, no edit


SIGNIFICANT: frozenset[ChangeKind] = frozenset(
    {ChangeKind.HEADLINE, ChangeKind.CORRECTION, ChangeKind.EDIT, ChangeKind.REMOVED}
)
_ORDER = (
    ChangeKind.REMOVED,
    ChangeKind.RESTORED,
    ChangeKind.REVERTED,
    ChangeKind.REBASELINED,
    ChangeKind.CORRECTION,
    ChangeKind.HEADLINE,
    ChangeKind.EDIT,
    ChangeKind.BYLINE,
    ChangeKind.MINOR,
    ChangeKind.COSMETIC,
    ChangeKind.DATES,
)
_LEVEL_KIND = {"edit": ChangeKind.EDIT, "minor": ChangeKind.MINOR, "cosmetic": ChangeKind.COSMETIC}
_RANK = {None: 0, "cosmetic": 1, "minor": 2, "edit": 3}

_SENTENCE_START = re.compile(r"(?:^|[.!?:;¿¡\"«“(\-—–|]\s*)$")


@dataclass
class Findings:
    """Evidence collected while classifying, reported in the Classification."""

    numbers: list[tuple[str, str]] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)
    correction_notes: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    texts: tuple[str, str] = ("", "")
    """Old and new article (title and body), to tell a new name from a spelling fix."""
    language: str | None = None
    """The article's language, for number words."""
    _known: dict[int, frozenset[str]] = field(default_factory=dict, repr=False)

    def known_names(self, side: int) -> frozenset[str]:
        """Capitalised words of the old (0) or new (1) article, computed on first need."""
        if side not in self._known:
            self._known[side] = capitalised(self.texts[side])
        return self._known[side]


def capitalised(text: str) -> frozenset[str]:
    """Every capitalised word of a text (candidate names)."""
    return frozenset(token for token in tokenize(text) if token[:1].isupper())


def level_of_text(old: str, new: str, findings: Findings) -> str:
    """The level ("cosmetic", "minor", "edit") of a change between two short texts."""
    change = ParagraphChange("changed", 0, 0, old, new, word_diff(old, new))
    return level_of_paragraph(change, findings)


def level_of_paragraph(change: ParagraphChange, findings: Findings) -> str:
    """The level of a changed paragraph: the highest level among its hunks."""
    old, new = change.old or "", change.new or ""
    if letters_key(old) == letters_key(new):
        return "cosmetic"
    if Counter(words(old)) == Counter(words(new)):
        return "minor"
    stretches = hunks(change.segments)
    levels = [_level_of_hunk(hunk, old, new, findings) for hunk in stretches]
    if "edit" in levels:
        edited = [hunk for hunk, level in zip(stretches, levels, strict=True) if level == "edit"]
        findings.added.extend(touched(new, [(h.new_start, h.inserted) for h in edited]))
        findings.removed.extend(touched(old, [(h.old_start, h.deleted) for h in edited]))
    return max(levels, key=lambda value: _RANK[value], default="cosmetic")


def _level_of_hunk(hunk: Hunk, old: str, new: str, findings: Findings) -> str:
    """Apply the rules of the module docstring to one hunk."""
    if letters_key(hunk.deleted) == letters_key(hunk.inserted):
        return "cosmetic"
    typo = _is_typo(hunk)
    checks = (
        _numbers_changed(hunk, typo, findings),
        not typo and _quote_changed(hunk, old, new, findings),
        negations(hunk.deleted) != negations(hunk.inserted),
        not (typo and _fixes_to_known_name(hunk, findings))
        and _name_changed(hunk, old, new, findings),
    )
    if any(checks):
        return "edit"
    return "minor" if typo or _only_function_words(hunk) else "edit"


def _is_typo(hunk: Hunk) -> bool:
    """At most two words, each changed by one character at most (Chinese: one word)."""
    before, after = words(hunk.deleted), words(hunk.inserted)
    most_words = 1 if has_cjk(hunk.deleted + hunk.inserted) else 2
    if max(len(before), len(after)) > most_words:
        return False
    limit = max(1, min(len(before), len(after)))
    return edit_distance(" ".join(before), " ".join(after), limit) <= limit


def _only_function_words(hunk: Hunk) -> bool:
    """Only articles, prepositions or conjunctions were added, dropped or swapped."""
    changed = words(hunk.deleted) + words(hunk.inserted)
    return bool(changed) and all(word in FUNCTION_WORDS for word in changed)


def _numbers_changed(hunk: Hunk, typo: bool, findings: Findings) -> bool:
    """A figure changed (a misspelt number word being fixed does not count)."""
    before = Counter(numbers(hunk.deleted, findings.language))
    after = Counter(numbers(hunk.inserted, findings.language))
    if before == after or (typo and not (before and after) and not _has_digits(hunk)):
        return False
    gone, came = list((before - after).elements()), list((after - before).elements())
    for index in range(max(len(gone), len(came))):
        pair = (gone[index] if index < len(gone) else "", came[index] if index < len(came) else "")
        findings.numbers.append(pair)
    return True


def _has_digits(hunk: Hunk) -> bool:
    """True when either side of the hunk contains a digit."""
    return any(char.isdigit() for char in hunk.deleted + hunk.inserted)


def _quote_changed(hunk: Hunk, old: str, new: str, findings: Findings) -> bool:
    """The hunk falls inside a quotation in the old or the new text."""
    before = quote_at(old, hunk.old_start, len(hunk.deleted))
    after = quote_at(new, hunk.new_start, len(hunk.inserted))
    if before is None and after is None:
        return False
    findings.quotes.append((before or "", after or ""))
    return True


def _fixes_to_known_name(hunk: Hunk, findings: Findings) -> bool:
    """A misspelt name corrected to the spelling the article already used elsewhere
    ("Paraguyan" -> "Paraguayan" beside "Paraguayan chicken"): a typo fix, not a new name.
    Murdoch -> Murdock stays an edit, since "Murdock" was not in the article before."""
    inserted = [token for token in tokenize(hunk.inserted) if token[:1].isupper()]
    return bool(inserted) and all(token in findings.known_names(0) for token in inserted)


def _name_changed(hunk: Hunk, old: str, new: str, findings: Findings) -> bool:
    """A capitalised word that is not sentence-initial is new to, or gone from, the article."""
    added = _names_in(hunk.inserted, new, hunk.new_start, lambda: findings.known_names(0))
    gone = _names_in(hunk.deleted, old, hunk.old_start, lambda: findings.known_names(1))
    return bool(added or gone)


def _names_in(part: str, text: str, start: int, known: Callable[[], frozenset[str]]) -> list[str]:
    """Capitalised, non-sentence-initial words of `part` that the other version lacks."""
    found, offset = [], start
    for token in tokenize(part):
        initial = _SENTENCE_START.search(text[max(0, offset - 3) : offset]) is not None
        if token[:1].isupper() and not initial and token not in known():
            found.append(token)
        offset += len(token)
    return found


@dataclass(frozen=True)
class Classification:
    """The verdict on one version pair (or on a removal / restoration)."""

    kinds: tuple[ChangeKind, ...]
    """Every kind present, most important first."""
    significant: bool
    summary: str
    """One English line for an editor."""
    added: tuple[str, ...] = ()
    """Sentences added or rewritten-to (trimmed)."""
    removed: tuple[str, ...] = ()
    numbers: tuple[tuple[str, str], ...] = ()
    """(old, new) figures that changed; "" on the side where there was none."""
    quotes: tuple[tuple[str, str], ...] = ()
    correction_notes: tuple[str, ...] = ()

    @property
    def kind(self) -> ChangeKind:
        """The primary kind."""
        return self.kinds[0]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form for the database and reports."""
        return {
            "kinds": [str(kind) for kind in self.kinds],
            "significant": self.significant,
            "summary": self.summary,
            "added": list(self.added),
            "removed": list(self.removed),
            "numbers": [list(pair) for pair in self.numbers],
            "quotes": [list(pair) for pair in self.quotes],
            "correction_notes": list(self.correction_notes),
        }


@dataclass
class _Verdict:
    """What the rules found so far, before it is frozen into a Classification."""

    kinds: set[ChangeKind] = field(default_factory=set)
    headline_significant: bool = False
    findings: Findings = field(default_factory=Findings)
    counts: dict[str, int] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)


def classify(
    old: ArticleText, new: ArticleText, diff: ArticleDiff | None = None
) -> Classification | None:
    """Classify the change between two versions.

    Args:
        old: The earlier version.
        new: The later version.
        diff: Their diff when the caller already has it.

    Returns:
        The classification, or None when nothing an editor could see changed (spacing, quote
        style, editors' codes, furniture).
    """
    diff = diff or diff_versions(old, new)
    verdict = _Verdict()
    verdict.findings.language = new.language or old.language
    verdict.findings.texts = (
        "\n".join([old.title or "", *old.paragraphs]),
        "\n".join([new.title or "", *new.paragraphs]),
    )
    _judge_headlines(diff, (old.title, new.title), verdict)
    if _loose_body(diff, "old") != _loose_body(diff, "new"):
        _judge_body(diff, verdict)
    _judge_byline_and_dates(diff, verdict)
    if not verdict.kinds:
        return None
    return _freeze(verdict, diff)


def state_change(kind: ChangeKind, title: str | None) -> Classification:
    """The classification of a removal or restoration found by the fetch state machine.

    Args:
        kind: `ChangeKind.REMOVED` or `ChangeKind.RESTORED`.
        title: The article's last known headline.

    Returns:
        A one-kind classification.
    """
    verb = {ChangeKind.REMOVED: "Article removed", ChangeKind.RESTORED: "Article restored"}
    label = verb.get(kind, f"Article {kind}")
    summary = f'{label}: "{_short(title)}"' if title else label
    return Classification(kinds=(kind,), significant=kind in SIGNIFICANT, summary=summary)


def _loose_body(diff: ArticleDiff, side: str) -> str:
    """The body of one side under `loose_key`, to spot spacing/quote/regrouping-only changes."""
    index = f"{side}_index"
    texts = sorted(
        (getattr(change, index), getattr(change, side))
        for change in diff.paragraphs
        if getattr(change, side) is not None
    )
    return loose_key("".join(text for _, text in texts))


def _judge_headlines(
    diff: ArticleDiff, title: tuple[str | None, str | None], verdict: _Verdict
) -> None:
    """Record a headline change and whether any variant changed at edit level."""
    pairs = {
        name: pair
        for name, pair in diff.headlines.items()
        if loose_key(pair[0] or "") != loose_key(pair[1] or "")
    }
    if not pairs:
        return
    verdict.kinds.add(ChangeKind.HEADLINE)
    judged = set()
    for name, (before, after) in pairs.items():
        if name not in ("headline", "h1"):  # a missing variant reads as the bare title
            before = _undecorated(before or title[0], title[0])
            after = _undecorated(after or title[1], title[1])
        if (before, after) in judged:
            continue
        judged.add((before, after))
        level = level_of_text(before or "", after or "", verdict.findings)
        logger.debug("headline variant %s changed at level %s", name, level)
        verdict.headline_significant |= level == "edit"
    if "headline" in pairs or "h1" in pairs:
        before, after = pairs.get("headline") or pairs["h1"]
        verdict.parts.append(f'Headline changed: "{_short(before)}" → "{_short(after)}"')
    else:
        verdict.parts.append(f"Headline variant changed ({', '.join(sorted(pairs))})")


def _undecorated(variant: str | None, title: str | None) -> str | None:
    """A headline variant without the title it contains: what is left is decoration."""
    if variant and title and title in variant:
        return title
    return variant


def _judge_body(diff: ArticleDiff, verdict: _Verdict) -> None:
    """Classify every paragraph change and record counts, sentences and findings."""
    body_level = None
    for change in diff.paragraphs:
        level = _judge_paragraph(change, verdict)
        body_level = max(body_level, level, key=lambda value: _RANK[value])
    if diff.rewritten:
        body_level = "edit"
        verdict.parts.append(f"Text rewritten (similarity {diff.similarity:.2f})")
    if body_level:
        verdict.kinds.add(_LEVEL_KIND[body_level])
    verdict.parts.extend(_count_parts(verdict.counts))


def _judge_paragraph(change: ParagraphChange, verdict: _Verdict) -> str | None:
    """The level of one paragraph change (None: nothing or a correction notice)."""
    if change.op == "equal":
        return None
    if _is_notice_change(change):
        verdict.kinds.add(ChangeKind.CORRECTION)
        verdict.findings.correction_notes.append(change.new or change.old or "")
        return None
    verdict.counts[change.op] = verdict.counts.get(change.op, 0) + 1
    if change.op == "moved":
        return "minor"
    if change.op == "added":
        verdict.findings.added.extend(sentences(change.new or ""))
        return "edit"
    if change.op == "removed":
        verdict.findings.removed.extend(sentences(change.old or ""))
        return "edit"
    if loose_key(change.old or "") == loose_key(change.new or ""):
        verdict.counts["changed"] -= 1
        return None
    return level_of_paragraph(change, verdict.findings)


def _is_notice_change(change: ParagraphChange) -> bool:
    """A correction notice appeared, changed or went away (a notice that only moved does not)."""
    if change.op == "moved":
        return False
    return is_correction_notice(change.new or "") or is_correction_notice(change.old or "")


def _count_parts(counts: dict[str, int]) -> list[str]:
    """ "2 paragraphs added" style parts, in a fixed order."""
    parts = []
    for op in ("added", "removed", "changed", "moved"):
        count = counts.get(op, 0)
        if count:
            parts.append(f"{count} paragraph{'s' if count > 1 else ''} {op}")
    return parts


def _judge_byline_and_dates(diff: ArticleDiff, verdict: _Verdict) -> None:
    """Byline and date stamps: reported, never significant on their own."""
    if diff.byline and loose_key(diff.byline[0] or "") != loose_key(diff.byline[1] or ""):
        verdict.kinds.add(ChangeKind.BYLINE)
        verdict.parts.append(f'Byline "{_short(diff.byline[0])}" → "{_short(diff.byline[1])}"')
    if diff.dates:
        verdict.kinds.add(ChangeKind.DATES)
        verdict.parts.append(f"Date stamps moved ({', '.join(sorted(diff.dates))})")


def _freeze(verdict: _Verdict, diff: ArticleDiff) -> Classification:
    """Order the kinds, decide significance and write the summary."""
    significant_kinds = set(verdict.kinds) & SIGNIFICANT
    if not verdict.headline_significant:
        significant_kinds.discard(ChangeKind.HEADLINE)
    kinds = sorted(verdict.kinds, key=lambda k: (k not in significant_kinds, _ORDER.index(k)))
    findings = verdict.findings
    parts = list(verdict.parts)
    if findings.correction_notes:
        parts.insert(0, f'Correction note: "{_short(findings.correction_notes[0])}"')
    parts.extend(f"figure {a or '∅'} → {b or '∅'}" for a, b in _unique(findings.numbers)[:3])
    parts.extend(f'quote "{_short(a)}" → "{_short(b)}"' for a, b in _unique(findings.quotes)[:2])
    logger.debug("classified %s (similarity %.2f)", kinds, diff.similarity)
    return Classification(
        kinds=tuple(kinds),
        significant=bool(significant_kinds),
        summary="; ".join(parts) or "Typo-level or style changes",
        added=_unique(findings.added)[:MAX_SENTENCES],
        removed=_unique(findings.removed)[:MAX_SENTENCES],
        numbers=_unique(findings.numbers),
        quotes=_unique(findings.quotes),
        correction_notes=tuple(findings.correction_notes),
    )


def _unique(items: list[Any]) -> tuple[Any, ...]:
    """Items in first-seen order without repeats (several variants often say the same)."""
    return tuple(dict.fromkeys(items))


def _short(text: str | None, limit: int = 80) -> str:
    """Trim a string for a one-line summary."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
