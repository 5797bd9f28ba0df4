"""Text analysis for the relevance matcher: sentences, tokens and phrase lookup.

Analysis goes by script, not by the page's language tag: Latin runs are lowercased,
accent-folded (except ñ: "Peña" must not become "pena", a common Spanish word) and lightly
stemmed; CJK runs are folded to simplified characters and segmented with jieba. A Spanish page
that quotes "data center" in English, or a Chinese page with "主權AI" and "Santiago Peña",
is analysed correctly whatever language the outlet declared.

The Latin stemmer is deliberately crude and shared by English and Spanish: strip a plural
"s" and an English "-ing"/"-ed", turn British "-re" into "-er", drop a final a/e/o on long
words, then keep the first seven letters. Seven-letter prefixes join most cognates the two
languages share (extradition / extradición, ratification / ratificación, construction /
construcción, diplomatic / diplomática, computing / cómputo), which is the cross-language
recall the English watch items get for free. Six letters joined more cognates (exports /
exportaciones) but also "represalias" (reprisals) with "representantes" and "represas" (dams),
measured on the labelled set as false links; the Spanish forms the prefix misses belong in
the editor's terms.

jieba runs on one shared tokenizer (its dictionary is ~50 MB; one per event would not do);
`add_cjk_words` teaches it the editor's Chinese terms so they stay whole ("中国国民党" must
stay one word, or "中国" inside it would read as China).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

from crawler.matching.lexical.vocab import CJK_STOPWORDS, STOPWORDS, T2S

if TYPE_CHECKING:
    import jieba

logger = logging.getLogger(__name__)

P = TypeVar("P")

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD_RE = re.compile(r"[a-z0-9ñ]+")
_NEXT = r"(?=[\"'(\[¿¡]?[A-ZÁÉÍÓÚÑ0-9])"
_SENTENCE_RE = re.compile(rf"(?<=[.!?])\s+{_NEXT}|(?<=[.!?][\"')\]])\s+{_NEXT}|(?<=[。！？；])|\n+")
_VOWELS = frozenset("aeiou")
STEM_LENGTH = 7


def _fold_table() -> dict[int, str]:
    """Lowercase and strip accents one character for one character (offsets stay valid)."""
    table = {}
    for code in range(0x41, 0x250):
        char = chr(code)
        if char in "ñÑ":
            table[code] = "ñ"
            continue
        base = unicodedata.normalize("NFKD", char)[0].lower()
        if base.isascii() and base.isalnum() and base != char:
            table[code] = base
    return table


_FOLD = _fold_table()

_jieba_lock = threading.Lock()
_jieba: jieba.Tokenizer | None = None
_jieba_words: set[str] = set()


def fold_latin(text: str) -> str:
    """Lowercase, accent-folded text of the same length ("Taipéi" -> "taipei", ñ kept)."""
    return text.translate(_FOLD)


def fold_cjk(text: str) -> str:
    """Traditional characters of news vocabulary as simplified ("臺灣" -> "台湾")."""
    return text.translate(T2S)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The shared English/Spanish stem of a folded word (see the module docstring)."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) >= 6 and word.endswith(("ing", "ed")):
        word = word[: -3 if word.endswith("ing") else -2]
    if len(word) > 4 and word.endswith("re") and word[-3] not in _VOWELS:
        word = word[:-2] + "er"
    if len(word) >= STEM_LENGTH and word[-1] in "aeo":
        word = word[:-1]
    return word[:STEM_LENGTH]


def split_sentences(text: str) -> list[str]:
    """Sentences (and paragraph lines) of `text`, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]


@dataclass(frozen=True)
class Tokens:
    """Analysed tokens of one passage with the character offset where each starts."""

    words: tuple[str, ...]
    offsets: tuple[int, ...]


def analyse(text: str) -> Tokens:
    """Content tokens of `text`: stemmed Latin words and segmented CJK words, in order."""
    words: list[str] = []
    offsets: list[int] = []
    position = 0
    for match in _CJK_RE.finditer(text):
        _latin(text, position, match.start(), words, offsets)
        _cjk(match.group(), match.start(), words, offsets)
        position = match.end()
    _latin(text, position, len(text), words, offsets)
    return Tokens(tuple(words), tuple(offsets))


def _latin(text: str, start: int, end: int, words: list[str], offsets: list[int]) -> None:
    """Append the Latin content words of text[start:end]."""
    if start >= end:
        return
    for match in _WORD_RE.finditer(fold_latin(text[start:end])):
        word = match.group()
        if word not in STOPWORDS:
            words.append(stem(word))
            offsets.append(start + match.start())


def _cjk(run: str, start: int, words: list[str], offsets: list[int]) -> None:
    """Append the jieba words of a CJK run, folded, without function words."""
    position = start
    for segment in _tokenizer().cut(fold_cjk(run), HMM=False):
        for word in _split_known(segment):
            if word not in CJK_STOPWORDS:
                words.append(word)
                offsets.append(position)
            position += len(word)


def _split_known(word: str) -> list[str]:
    """Split a jieba word around the longest editor word inside it ("中国外交部" -> 中国, 外交部).

    jieba's own dictionary holds compounds that would hide an alias or term; the editor's
    vocabulary wins. Editor words (the `not` phrases included) are never split.
    """
    if len(word) <= 2 or word in _jieba_words:
        return [word]
    for size in range(len(word) - 1, 1, -1):
        for begin in range(len(word) - size + 1):
            if word[begin : begin + size] in _jieba_words:
                head, known, tail = word[:begin], word[begin : begin + size], word[begin + size :]
                parts = [*_split_known(head), known, *_split_known(tail)]
                return [part for part in parts if part]
    return [word]


def _tokenizer() -> jieba.Tokenizer:
    """The shared jieba tokenizer, loaded quietly on first use (~0.5 s).

    jieba is imported here, not at module level: its import alone is ~16 MiB, and a profile
    and articles without Chinese never need it.
    """
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _jieba = tokenizer
                logger.debug("jieba dictionary loaded")
    return _jieba


def add_cjk_words(phrases: Iterable[str]) -> None:
    """Teach jieba every CJK run of `phrases` (folded), so terms are segmented whole."""
    runs = {fold_cjk(run) for phrase in phrases for run in _CJK_RE.findall(phrase)}
    new = sorted(runs - _jieba_words)
    if not new:
        return
    tokenizer = _tokenizer()
    with _jieba_lock:
        for run in new:
            tokenizer.add_word(run, freq=max(tokenizer.suggest_freq(run), 1000))
        _jieba_words.update(new)


@dataclass(frozen=True)
class Hit(Generic[P]):
    """A phrase found in a token sequence: tokens [start, end) carry `payload`."""

    start: int
    end: int
    payload: P


class PhraseIndex(Generic[P]):
    """Exact token-sequence lookup of many phrases, keyed by their first token."""

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], P]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], P]]] = {}
        for key, payload in entries:
            if key:
                self._by_first.setdefault(key[0], []).append((key, payload))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda entry: -len(entry[0]))

    def find(self, words: Sequence[str]) -> list[Hit[P]]:
        """Every occurrence of every phrase (overlaps included), longest first per start."""
        hits = []
        for i, word in enumerate(words):
            for key, payload in self._by_first.get(word, ()):
                if tuple(words[i : i + len(key)]) == key:
                    hits.append(Hit(i, i + len(key), payload))
        return hits
