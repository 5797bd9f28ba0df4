"""Text normalisation and identity: when two extractions count as the same.

`decode_html` turns response bytes into text the same way every time (a page decoded with a
different guess would be a false edit on every character outside ASCII).

Every string that goes into an `ArticleText` passes through `normalise`, so a diff only ever
sees editorial changes: a CMS that re-renders a page (typographic quotes switched on, `&nbsp;`
instead of spaces, a soft hyphen inserted for line breaking, a decomposed accent) must not
produce a new version. The mapping is deliberately lossy in typography and never in words.
`text_hash` and `fingerprint` hash normalised articles, so equal hashes mean equal text.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
from typing import Any

from charset_normalizer import from_bytes

from crawler.extract.article import ArticleText

#: `<meta charset>` or `http-equiv` Content-Type charset, looked for in the first bytes only.
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_CHARSET_WINDOW = 4096
#: WHATWG: these labels mean windows-1252, and a byte stream cannot declare UTF-16 in-band.
#: (Python's canonical name of ISO-8859-1 and latin1 is "iso8859_1".)
_CHARSET_ALIASES = {
    "iso8859_1": "cp1252",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "utf_16": "utf-8",
}
#: `charset=` parameter of a Content-Type header.
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
#: Single-byte Latin-script codecs a guesser picks for undeclared Western text (charset
#: normalizer likes cp1250 for Spanish: "Peńa"). The web's rule for an undeclared Latin page
#: is windows-1252, so each of these guesses is read as cp1252 instead.
_LATIN_GUESSES = frozenset(
    [
        "ascii",
        "iso8859_1",
        "latin_1",
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "cp437",
        "cp850",
        "cp852",
        "cp858",
        "mac_roman",
        "mac_latin2",
        "mac_iceland",
        "mac_turkish",
        "iso8859_2",
        "iso8859_3",
        "iso8859_4",
        "iso8859_9",
        "iso8859_10",
        "iso8859_13",
        "iso8859_14",
        "iso8859_15",
        "iso8859_16",
    ]
)

#: Characters that render as nothing (or only as a line-break hint): dropped outright.
_INVISIBLE = {
    "\u00ad": None,  # soft hyphen: a hyphenation hint, inserted by some CMSs per render
    "\u200b": None,  # zero-width space
    "\u200c": None,  # zero-width non-joiner
    "\u200d": None,  # zero-width joiner
    "\u2060": None,  # word joiner
    "\ufeff": None,  # byte-order mark / zero-width no-break space
}

#: Typographic quotes to their ASCII forms ("smart quotes" are a rendering setting).
_QUOTES = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark / typographic apostrophe
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
}

#: Every hyphen and dash becomes "-": outlets and templates swap en dash, em dash, minus and
#: non-breaking hyphen freely, and a dash style is never the news. Spacing around the dash is
#: kept, so "a - b" and "a-b" still differ.
_DASHES = dict.fromkeys(
    "\u2010"  # hyphen
    "\u2011"  # non-breaking hyphen
    "\u2012"  # figure dash
    "\u2013"  # en dash
    "\u2014"  # em dash
    "\u2015"  # horizontal bar
    "\u2212"  # minus sign
    "\ufe58"  # small em dash
    "\ufe63"  # small hyphen-minus
    "\uff0d",  # fullwidth hyphen-minus
    "-",
)

_TABLE = str.maketrans({**_INVISIBLE, **_QUOTES, **_DASHES, "\u2026": "..."})

#: Python's `\s` on str covers NBSP, narrow NBSP, thin/figure spaces and the ideographic space.
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Return `text` in watchdesk's canonical form.

    Args:
        text: Any text taken from a page (headline, paragraph, byline).

    Returns:
        The text in Unicode NFC, without soft hyphens or zero-width characters, with straight
        quotes, every dash as "-", "..." for the ellipsis character, whitespace runs (NBSP
        included) collapsed to one space, and no leading or trailing space. Idempotent:
        `normalise(normalise(t)) == normalise(t)`.
    """
    # Translate before composing: a dropped soft hyphen between a letter and a combining
    # accent must still let NFC join the two.
    composed = unicodedata.normalize("NFC", text.translate(_TABLE))
    return _WHITESPACE.sub(" ", composed).strip()


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Decode a response body as a browser does: BOM, then the HTTP header's charset, then
    `<meta charset>`, then UTF-8, then a guess.

    Args:
        data: Raw bytes as received.
        content_type: the response's Content-Type header (its `charset=` is used), if any.

    Returns:
        The text. `ISO-8859-1`, `latin1` and `ascii` labels mean windows-1252 (WHATWG).
        Bytes with no declaration decode as UTF-8 when they are valid UTF-8, which is what
        servers that send `text/html` without a charset (the Presidential Office) mean;
        anything else is guessed by charset-normalizer, except that a Latin single-byte
        guess is read as windows-1252. Undecodable bytes become U+FFFD, never an exception.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    declared = header_charset(content_type) or _declared_charset(data[:_CHARSET_WINDOW])
    if declared:
        return data.decode(declared, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None or _codec_name(best.encoding) in _LATIN_GUESSES:
            return data.decode("cp1252", errors="replace")
        return str(best)


def header_charset(content_type: str | None) -> str | None:
    """The Python codec named by a Content-Type header's `charset=`, if it names a real one."""
    match = _HEADER_CHARSET.search(content_type or "")
    return _charset_codec(match.group(1)) if match else None


def _declared_charset(head: bytes) -> str | None:
    """The Python codec named by a `<meta>` charset declaration, if it names a real one."""
    match = _META_CHARSET.search(head)
    if match is None:
        return None
    try:
        return _charset_codec(match.group(1).decode("ascii"))
    except UnicodeDecodeError:
        return None


def _codec_name(label: str) -> str | None:
    """Python's canonical codec name for a label ("ISO-8859-1" -> "latin_1"), or None."""
    try:
        return codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return None


def _charset_codec(label: str) -> str | None:
    """The codec to decode a declared charset with (WHATWG aliases applied), or None."""
    name = _codec_name(label)
    return None if name is None else _CHARSET_ALIASES.get(name, name)


def text_hash(article: ArticleText) -> str:
    """SHA-256 of what a reader reads: title, headline variants and paragraphs.

    Args:
        article: An extraction.

    Returns:
        Hex digest. Strings are normalised again, so a hand-built `ArticleText` hashes like
        an extracted one.
    """
    return _sha256_json(
        {
            "title": normalise(article.title or ""),
            "headlines": {key: normalise(text) for key, text in sorted(article.headlines.items())},
            "paragraphs": [normalise(paragraph) for paragraph in article.paragraphs],
        }
    )


def fingerprint(article: ArticleText, article_text_hash: str | None = None) -> str:
    """SHA-256 identifying a version: `text_hash` plus byline, published and modified.

    Two hashes because a moved `dateModified` (or a new byline) with unchanged text is still
    a new version worth keeping - of kind "dates"/"byline" - but must never alert. Storage
    keys versions on the fingerprint; the change stage compares text hashes to tell a text
    edit from a metadata-only move without re-diffing.

    Args:
        article: An extraction.
        article_text_hash: `text_hash(article)` when the caller has it already.

    Returns:
        Hex digest.
    """
    return _sha256_json(
        {
            "text": article_text_hash or text_hash(article),
            "byline": normalise(article.byline or ""),
            "published": "" if article.published_guessed else (article.published or ""),
            "modified": article.modified or "",
        }
    )


def _sha256_json(value: dict[str, Any]) -> str:
    """SHA-256 of a canonical JSON rendering (sorted keys, no whitespace, UTF-8)."""
    payload = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
