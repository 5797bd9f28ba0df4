"""Text handling for the matcher: sentences, folding, stems, Chinese words.

Ecosystem tools instead of hand-made ones: OpenCC folds traditional to simplified Chinese
(臺灣 and 台湾 are one string), snowballstemmer gives English and Spanish stems, jieba cuts
Chinese into words and tags names (`jieba.posseg`). Sentences are the unit of evidence: a
watch item is a narrow question, and one sentence that answers it is what an editor wants to
see. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import snowballstemmer

if TYPE_CHECKING:
    import opencc

_NEXT = r"(?=[\"'(\[¿¡“«]?[A-ZÁÉÍÓÚÑ0-9])"
_SENTENCE_RE = re.compile(
    rf"(?<=[.!?])\s+{_NEXT}|(?<=[.!?][\"')\]”»])\s+{_NEXT}|(?<=[。！？；])|\n+"
)
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD_RE = re.compile(r"[^\W_](?:[\w'’.-]*[^\W_])?")
#: Spanish function words that English never writes: enough to pick the stemmer.
_SPANISH_MARKERS = frozenset(
    ["el", "la", "los", "las", "del", "que", "y", "en", "por", "para", "con", "una", "sus"]
)
#: jieba part-of-speech tags of names: person, place, organisation, other proper noun.
_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})
_lock = threading.Lock()


def _fold_table() -> dict[int, str]:
    """Lowercase and strip accents one character for one character (offsets stay valid)."""
    table = {}
    for code in range(0x41, 0x250):
        char = chr(code)
        base = unicodedata.normalize("NFKD", char)[0].lower()
        if base.isascii() and base.isalnum() and base != char:
            table[code] = base
    return table


_FOLD = _fold_table()


def fold_latin(text: str) -> str:
    """Lowercase, accent-folded text of the same length ("Taipéi" -> "taipei")."""
    return text.translate(_FOLD)


@cache
def _t2s() -> opencc.OpenCC:
    """OpenCC's traditional-to-simplified converter, built once (imported on first Chinese
    text, like jieba: see `chinese_names`)."""
    import opencc

    return opencc.OpenCC("t2s")


def fold_cjk(text: str) -> str:
    """Traditional Chinese as simplified (OpenCC t2s); other characters unchanged."""
    with _lock:
        return _t2s().convert(text)


def fold(text: str) -> str:
    """Both folds: the form in which names and terms of any script are compared."""
    return fold_latin(fold_cjk(text) if has_cjk(text) else text)


def has_cjk(text: str) -> bool:
    """Whether `text` contains Chinese characters."""
    return _CJK_RE.search(text) is not None


def split_sentences(text: str) -> list[str]:
    """Sentences (and paragraph lines) of `text`, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_RE.split(text or "") if s and s.strip()]


def latin_words(text: str) -> list[str]:
    """Folded Latin-script words and numbers ("BR-319", "ee.uu" kept whole)."""
    return [w.strip(".") for w in _LATIN_WORD_RE.findall(fold_latin(text)) if w.strip(".")]


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    """A Snowball stemmer, one per language and process."""
    return snowballstemmer.stemmer(language)


def _is_spanish(words: Sequence[str]) -> bool:
    """Whether Latin words are Spanish: enough function words that English never writes."""
    return sum(w in _SPANISH_MARKERS for w in words) >= max(1, len(words) // 12)


def writing_language(text: str) -> str:
    """ "zh", "es" or "en": the language an article is written in, read from the text.

    Cards are English, so a Spanish or Chinese article's similarities to the card are
    cross-lingual and run lower (measured on the linking events: the best sentence of a
    follow-up scores 0.53 to the card in English, 0.45 in Spanish, 0.44 in Chinese); the
    on-topic model needs to know which. Read from the text rather than the page's declared
    language, which outlets often leave at their default.
    """
    cjk = len(_CJK_RE.findall(text))
    if cjk and cjk >= 0.2 * len("".join(text.split())):
        return "zh"
    return "es" if _is_spanish(latin_words(text)) else "en"


def stems(text: str, language: str | None = None) -> list[str]:
    """Snowball stems of the Latin words of `text`, so "exportación" finds "exportaciones".

    The language is Spanish or English, given or read from the text's function words.
    """
    words = latin_words(text)
    if language is None:
        language = "spanish" if _is_spanish(words) else "english"
    with _lock:
        return _stemmer(language).stemWords(words)


def stem_key(text: str, language: str | None = None) -> str:
    """The form terms are compared in: Chinese folded to simplified, Latin as " stem stem "."""
    if has_cjk(text):
        return fold(text)
    return " " + " ".join(stems(text, language)) + " "


def chinese_names(text: str) -> list[str]:
    """Names jieba tags in Chinese text (people, places, organisations), simplified.

    jieba is imported on the first Chinese text, not with this module: `jieba.posseg`'s
    import is ~68 MiB (its HMM tables) and its dictionary another ~68 MiB on first use
    (measured, RSS), which a profile and edits without Chinese never need.
    """
    if not has_cjk(text):
        return []
    simplified = fold_cjk(text)
    with _lock:
        import jieba.posseg

        pairs = list(jieba.posseg.cut(simplified))
    return [p.word for p in pairs if p.flag in _NAME_TAGS and len(p.word) >= 2]
