"""Tokens, sentences, keys and word lists for diffing and classifying article text.

Kept apart from diffing and classification because both need the same idea of a "word": a
Latin-script word, a number with its separators, one punctuation mark, a run of whitespace, or a
Chinese word as jieba cuts it. Tokens always join back to the exact input text. The lexical
knowledge the classifier uses (number words, negations, function words, correction notices,
quotation marks) lives here too, per language, so it can be read and extended in one place.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cache, lru_cache
from types import ModuleType

logger = logging.getLogger(__name__)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|[^\W\d_]+(?:\d+\w*)?|\w+|\s+|.", re.DOTALL)
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_WORD = re.compile(r"\w+")
_ROUGH = re.compile(r"[^\W_]+")
_QUOTE_CHARS = re.compile(r"[\"'`«»“”„‟‘’‚‛‹›「」『』]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])\s+|(?<=[。！？])")

_ZH_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
_ZH_NUMBER = re.compile(f"^[{_ZH_NUMERAL}]+[个名人岁年月日号位只次条元%]?$")


def _word_list(text: str) -> frozenset[str]:
    """A word set written as one blank-separated string (readable in source)."""
    return frozenset(text.split())


#: Spelled-out numbers per language ("un/una/um/uma/een" are left out: also articles; "second",
#: "segundo" too: also "according to" and a unit of time).
NUMBER_WORDS = {
    "en": _word_list(
        """zero one two three four five six seven eight nine ten eleven twelve thirteen
        fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty
        seventy eighty ninety hundred hundreds thousand thousands million millions billion
        billions dozen dozens half first third fourth fifth sixth seventh eighth ninth tenth
        twice"""
    ),
    "es": _word_list(
        """cero dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince
        dieciséis diecisiete dieciocho diecinueve veinte treinta cuarenta cincuenta sesenta
        setenta ochenta noventa cien ciento cientos mil millón millones primero primera tercero
        tercera cuarto cuarta quinto quinta sexto sexta séptimo octavo noveno décimo"""
    ),
    "pt": _word_list(
        """zero dois duas três quatro cinco seis sete oito nove dez onze doze treze vinte trinta
        quarenta cinquenta cem cento mil milhão milhões bilhão bilhões primeiro primeira
        terceiro terceira quarto quinto décimo"""
    ),
    "nl": _word_list(
        """nul twee drie vier vijf zes zeven acht negen tien elf twaalf dertien veertien
        vijftien zestien zeventien achttien negentien twintig dertig veertig vijftig honderd
        duizend miljoen miljard"""
    ),
}
#: Without a language: every list, minus words that are numbers in one language and common
#: words in another ("dos" is "of the" in Portuguese, "once" English, "elf" Dutch eleven).
_ANY_LANGUAGE_NUMBERS = frozenset().union(*NUMBER_WORDS.values()) - {"dos", "once", "elf"}


def has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters (then words come from jieba)."""
    return _CJK_RUN.search(text) is not None


def tokenize(text: str) -> list[str]:
    """Split text into diffable tokens that join back to exactly `text`.

    Args:
        text: Normalised text in any script.

    Returns:
        Words, numbers, single punctuation marks and whitespace runs; Chinese runs are cut into
        words by jieba.
    """
    if not has_cjk(text):
        return _TOKEN.findall(text)
    tokens: list[str] = []
    position = 0
    for run in _CJK_RUN.finditer(text):
        tokens.extend(_TOKEN.findall(text[position : run.start()]))
        tokens.extend(_cut_chinese(run.group()))
        position = run.end()
    tokens.extend(_TOKEN.findall(text[position:]))
    return tokens


@lru_cache(maxsize=4096)
def _cut_chinese(run: str) -> tuple[str, ...]:
    """Cut one run of Chinese characters into words (cached: paragraphs repeat across versions)."""
    return tuple(_jieba().cut(run, HMM=False))


@cache
def _jieba() -> ModuleType:
    """jieba, imported at the first Chinese text: its import alone is ~16 MiB of a crawl
    process that may never diff Chinese."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not ours to log
    return jieba


def words(text: str) -> list[str]:
    """The casefolded word tokens of a text (no whitespace, no punctuation)."""
    return [token.casefold() for token in tokenize(text) if _WORD.match(token)]


def rough_words(text: str) -> list[str]:
    """Casefolded words for similarity scores (Chinese: single characters; no jieba, fast)."""
    folded = text.casefold()
    if has_cjk(folded):
        return [part for chunk in _ROUGH.findall(folded) for part in _split_cjk(chunk)]
    return _ROUGH.findall(folded)


def _split_cjk(chunk: str) -> list[str]:
    """A word chunk with every Chinese character on its own."""
    return re.findall(f"[{_CJK}]|[^{_CJK}]+", chunk)


def sentences(text: str) -> list[str]:
    """Split a paragraph into trimmed sentences (good enough for reports, not linguistics)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def numbers(text: str, language: str | None = None) -> list[str]:
    """Numbers in a text: digit groups (with separators), number words, Chinese numerals."""
    number_words = NUMBER_WORDS.get(language or "", _ANY_LANGUAGE_NUMBERS)
    found = _NUMBER.findall(text)
    for token in tokenize(text):
        if token.casefold() in number_words or _ZH_NUMBER.match(token):
            found.append(token)
    return found


def loose_key(text: str) -> str:
    """Key under which whitespace-only and quote-style-only differences vanish."""
    text = unicodedata.normalize("NFC", text)
    return "".join(_QUOTE_CHARS.sub('"', text).split())


def letters_key(text: str) -> str:
    """Key under which case, punctuation, quotes and whitespace differences vanish."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if char.isalnum())


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Edit distance where swapping two neighbours counts once (typos are often transpositions).

    Args:
        a: First string.
        b: Second string.
        limit: Largest distance the caller cares about.

    Returns:
        The optimal-string-alignment distance, or `limit + 1` when it is larger than `limit`.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i]
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before[j - 2] + 1)
            current.append(best)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)


#: Articles, prepositions and conjunctions (en, es, pt, nl, zh): adding or dropping only these
#: is a style fix. Auxiliaries, pronouns and quantifiers are left out on purpose (they carry
#: tense, person and amount).
FUNCTION_WORDS = _word_list(
    """a an the of to in on at by for from with into onto and or but as than that
    el la los las un una unos unas lo de del al en con por para sobre entre y e o u que
    os um uma uns umas do da dos das na nos nas ao aos à às em pelo pela pelos pelas ou
    het een van op aan met voor bij naar uit om te en of dat die
    的 地 得 了 着 和 与 及 在"""
)
#: Words whose appearance or disappearance flips a statement.
NEGATIONS = _word_list(
    """not no never none nobody nothing cannot without n't
    nunca ni jamás ningún ninguna nadie nada sin tampoco
    não nem nenhum nenhuma ninguém sem
    niet geen nooit niets niemand zonder"""
)
_ZH_NEGATION = re.compile("[不没未无非别勿]")


def negations(text: str) -> frozenset[str]:
    """Negation words (and Chinese negation characters) present in a text."""
    found = {word for word in words(text) if word in NEGATIONS}
    return frozenset(found | set(_ZH_NEGATION.findall(text)))


_NOTICE_START = re.compile(
    r"^[\s*†‡(\[【（—–-]*(?:"
    r"corrections?|clarifications?|update[ds]?|editor'?s'? note|"
    r"fe de erratas|fe de errores|aclaraci[oó]n|correcci[oó]n|nota del editor|"
    r"nota de la redacci[oó]n|"
    r"actualizaci[oó]n|errata|corre[cç][aã]o|nota da reda[cç][aã]o|"
    r"更正|更新(?!时间|時間|于|於|日期)|編按|编按|編者按|编者按|勘誤|勘误|订正|訂正"
    r")\s*[:：.—–\-)\]】）]",
    re.IGNORECASE,
)
_NOTICE_PHRASE = re.compile(
    r"an earlier version of this|this (?:article|story|post|report) (?:has been|was) "
    r"(?:updated|corrected|amended)|una versi[oó]n anterior de (?:este|esta)|"
    r"(?:este|esta) (?:art[ií]culo|nota|texto|informaci[oó]n) (?:ha sido|fue) "
    r"(?:actualizad|corregid|modificad)|uma vers[aã]o anterior (?:deste|desta)|"
    r"本文(?:已|曾)?(?:更新|更正|修正|修訂|修订)|本報更正|本报更正",
    re.IGNORECASE,
)
_QUOTED = re.compile(
    r'"[^"\n]{1,500}"|«[^»]{1,500}»|“[^”]{1,500}”|„[^“”]{1,500}[“”]|「[^」]{1,500}」'
    r"|『[^』]{1,500}』|(?<!\w)'[^'\n]{1,300}'(?!\w)"
)


def is_correction_notice(paragraph: str) -> bool:
    """True for a correction, update or editor's note paragraph (en, es, pt, zh)."""
    return bool(_NOTICE_START.match(paragraph) or _NOTICE_PHRASE.search(paragraph))


def quote_at(text: str, start: int, length: int) -> str | None:
    """The quotation that overlaps text[start:start+length] (or contains position `start`)."""
    for match in _QUOTED.finditer(text):
        inside = match.start() < start < match.end()
        if inside or (length and match.start() < start + length and start < match.end()):
            return match.group()
    return None


def touched(text: str, spans: list[tuple[int, str]]) -> list[str]:
    """The sentences of `text` that a (start, changed text) span overlaps, spaces aside."""
    trimmed = []
    for start, part in spans:
        lead = len(part) - len(part.lstrip())
        trimmed.append((start + lead, len(part.strip())))
    found, position = [], 0
    for sentence in sentences(text):
        begin = text.find(sentence, position)
        end = position = begin + len(sentence)
        if any(_overlaps(begin, end, start, length) for start, length in trimmed):
            found.append(sentence)
    return found


def _overlaps(begin: int, end: int, start: int, length: int) -> bool:
    """Whether [start, start+length) meets [begin, end); an empty span must fall inside."""
    if length == 0:
        return begin < start < end
    return start < end and start + length > begin
