"""Group discovered articles that are one story: wire copies and translations of a release.

A follow-up report should list a CNA story once, not once per outlet that ran it, and an
Agencia IP release once, not once per language. Two rules, joined transitively (union-find):

A. **Near-duplicate text** (the same CNA story on Focus Taiwan and Taiwan News). Texts become
   sets of hashed shingles: five consecutive folded Latin words (function words kept: copies
   share them too) or four consecutive CJK characters. Two articles are copies when the
   shared shingles cover at least half of the shorter one (*containment*: the republisher
   trims or adds a paragraph and changes the headline) and Jaccard is at least 0.25 (a short
   text fully quoted inside a long feature is not a copy). Each needs at least 12 shingles;
   shorter texts are copies only when their folded titles are identical. Exact sets rather
   than MinHash sketches: a discovery run compares tens to hundreds of articles, where exact
   intersections are fast enough and miss nothing.
B. **One release in two languages** (an Agencia IP release in Spanish and English). Same
   publisher (registrable domain: ip.gov.py; english.president.gov.tw and www.president.gov.tw
   are one), different language (guessed from script and function words), publication dates
   at most one day apart, and the same *anchors*: numbers (not years) and capitalised names,
   accent-folded so "Taiwán" is "taiwan". The anchor sets must share at least four items, one
   of them a number, with a Dice overlap of at least 0.5. Requiring the same publisher keeps
   two outlets' independent reports of one press conference (same names, same figures) apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from crawler.matching.text import fold_cjk, fold_latin

SHINGLE_WORDS = 5
SHINGLE_CHARS = 4
MIN_SHINGLES = 12
MIN_CONTAINMENT = 0.5
MIN_JACCARD = 0.25
MIN_SHARED_ANCHORS = 4
MIN_ANCHOR_DICE = 0.5
MAX_DAYS_APART = 1

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD_RE = re.compile(r"[a-z0-9ñ]+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÁÉÍÓÚÑ][\wáéíóúñ'-]{2,}")
_YEAR_RE = re.compile(r"(19|20)\d\d")
_EN = frozenset({"the", "and", "of", "to", "in", "is", "for", "with", "that", "was", "on", "by"})
_ES = frozenset({"el", "la", "los", "las", "del", "que", "y", "en", "por", "con", "para", "una"})
_SECOND_LEVEL = frozenset({"com", "gov", "org", "net", "edu", "co", "ac", "go"})

Article = tuple[str, str, str | None, str | None]
"""(url, title, text, published ISO 8601)."""


def group_syndicated(articles: Sequence[Article]) -> list[list[str]]:
    """Group articles that are copies or translations of one story (rules in the docstring).

    Args:
        articles: (url, title, text or None, published ISO date/time or None) per article.

    Returns:
        Every url exactly once, in groups (singletons included), groups and urls in input
        order. A url given twice is one article.
    """
    urls = list(dict.fromkeys(url for url, *_ in articles))
    parent = {url: url for url in urls}
    facts = [_Facts(*article) for article in articles]
    for i, a in enumerate(facts):
        for b in facts[i + 1 :]:
            if a.url != b.url and (_copies(a, b) or _translations(a, b)):
                parent[_root(parent, a.url)] = _root(parent, b.url)
    groups: dict[str, list[str]] = {}
    for url in urls:
        groups.setdefault(_root(parent, url), []).append(url)
    return list(groups.values())


def _root(parent: dict[str, str], url: str) -> str:
    """Union-find root with path halving."""
    while parent[url] != url:
        parent[url] = parent[parent[url]]
        url = parent[url]
    return url


class _Facts:
    """What the rules compare, computed once per article."""

    def __init__(self, url: str, title: str, text: str | None, published: str | None) -> None:
        body = f"{title}\n{text or ''}"
        self.url = url
        latin = " ".join(_WORD_RE.findall(fold_latin(title)))
        self.title = latin + "".join(_CJK_RE.findall(fold_cjk(title)))
        self.shingles = _shingles(body)
        self.language = _language(body)
        self.domain = _domain(url)
        self.date = _date(published)
        self.anchors = _anchors(body)


def _copies(a: _Facts, b: _Facts) -> bool:
    """Rule A: near-duplicate shingle sets (or identical titles for very short texts)."""
    if min(len(a.shingles), len(b.shingles)) < MIN_SHINGLES:
        return bool(a.title) and a.title == b.title
    shared = len(a.shingles & b.shingles)
    containment = shared / min(len(a.shingles), len(b.shingles))
    jaccard = shared / len(a.shingles | b.shingles)
    return containment >= MIN_CONTAINMENT and jaccard >= MIN_JACCARD


def _translations(a: _Facts, b: _Facts) -> bool:
    """Rule B: one publisher's release in two languages."""
    if a.domain != b.domain or a.language == b.language or not (a.date and b.date):
        return False
    if abs((a.date - b.date).days) > MAX_DAYS_APART:
        return False
    shared = a.anchors & b.anchors
    dice = 2 * len(shared) / (len(a.anchors) + len(b.anchors))
    has_number = any(anchor[0].isdigit() for anchor in shared)
    return len(shared) >= MIN_SHARED_ANCHORS and has_number and dice >= MIN_ANCHOR_DICE


def _shingles(text: str) -> frozenset[int]:
    """Hashed word 5-grams of the Latin text and character 4-grams of the CJK text."""
    words = _WORD_RE.findall(fold_latin(text))
    last = len(words) - SHINGLE_WORDS + 1
    grams = {hash(tuple(words[i : i + SHINGLE_WORDS])) for i in range(last)}
    cjk = "".join(_CJK_RE.findall(fold_cjk(text)))
    grams |= {hash(cjk[i : i + SHINGLE_CHARS]) for i in range(len(cjk) - SHINGLE_CHARS + 1)}
    return frozenset(grams)


def _language(text: str) -> str:
    """ "zh", "es" or "en", from the share of CJK characters and common function words."""
    letters = sum(ch.isalpha() for ch in text) or 1
    if len(_CJK_RE.findall(text)) / letters > 0.2:
        return "zh"
    words = _WORD_RE.findall(fold_latin(text))
    spanish = sum(w in _ES for w in words)
    english = sum(w in _EN for w in words)
    return "es" if spanish > english else "en"


def _domain(url: str) -> str:
    """Registrable domain: "www.ip.gov.py" -> "ip.gov.py", "focustaiwan.tw" stays."""
    labels = (urlsplit(url).hostname or "").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def _date(published: str | None) -> dt.date | None:
    """The calendar date of an ISO 8601 date or date-time; None when absent or unreadable."""
    if not published:
        return None
    try:
        return dt.datetime.fromisoformat(published.strip()).date()
    except ValueError:
        return None


def _anchors(text: str) -> frozenset[str]:
    """Numbers (separators dropped, years left out) and folded capitalised names."""
    numbers = {re.sub(r"[.,]", "", n) for n in _NUMBER_RE.findall(text)}
    numbers = {n for n in numbers if not _YEAR_RE.fullmatch(n)}
    names = {fold_latin(name) for line in text.splitlines() for name in _NAME_RE.findall(line)}
    return frozenset(numbers | names)
