"""Which candidate may become the baseline: suspect pages, their confirmation, decoding noise.

A 200 is not always the article. A CMS error page ("Sorry, something went wrong"), a
consent or sign-in wall, a body the connection cut short, a teaser of three paragraphs out
of eight: each extracts to *something*, and diffed against the article it reads as a huge
edit, after which every real edit would be diffed against the bogus text. A candidate that
does not look like the same article is therefore held as *suspect*: nothing is reported and
the baseline stays, until a later check, at least WATCHDESK_CONFIRM_AFTER seconds after the
first, serves the very same content again (a real rewrite is stable; a glitch is not). If
the old article comes back first, the suspect is dropped and nothing was ever reported.

Pure module: no Scrapy, no SQLAlchemy. The store keeps the held candidate's fingerprint and
first sighting on the page row (`storage.checks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from crawler.extract.article import ArticleText

#: Headlines of pages that are not an article: error pages, consent and sign-in walls
#: (English, Spanish, Chinese). Matched on the normalised title, lower-cased.
_NOT_AN_ARTICLE = re.compile(
    r"something went wrong|an error (has )?occurred|^error\b|\berror \d{3}\b|^\d{3}\b"
    r"|page not found|page (is )?unavailable|service unavailable|internal server error"
    r"|algo sali[oó] mal|p[aá]gina no encontrada|error interno|ha ocurrido un error"
    r"|系統錯誤|發生錯誤|找不到(網頁|頁面)|页面不存在"
    r"|before you continue|we value your privacy|your privacy choices|cookie (consent|settings)"
    r"|manage consent|privacy (settings|preferences)|tu privacidad|aviso de cookies"
    r"|^(sign|log) ?in\b|^(sign|log) ?in to|please (sign|log) ?in|subscribe to (continue|read)"
    r"|create (a free |an )?account|iniciar sesi[oó]n|inicia sesi[oó]n|suscr[ií]bete para"
    r"|登入|会员登录|訂閱以繼續",
    re.I,
)
#: A baseline needs this many paragraphs before a collapse of its structure means anything.
COLLAPSE_MIN_PARAGRAPHS = 4
#: The candidate keeps less than this share of the baseline's text: not an edit, a collapse.
COLLAPSE_TEXT_RATIO = 0.5
#: ... or less than this share of its paragraphs while also losing a quarter of its text.
COLLAPSE_PARAGRAPH_RATIO = 0.5
COLLAPSE_TEXT_RATIO_WITH_PARAGRAPHS = 0.75
#: How far from the end of the body the closing tags must appear.
_TAIL_BYTES = 4096
_CLOSING = re.compile(rb"</(html|body)\s*>", re.I)


def ends_properly(body: bytes) -> bool:
    """Whether a body ends with its `</body>` or `</html>`.

    A connection closed early with no Content-Length leaves nothing at the HTTP level to say
    the answer was incomplete; the missing closing tags do, when the baseline's body had
    them (some templates never close: then only the other rules apply).
    """
    return _CLOSING.search(body[-_TAIL_BYTES:]) is not None


def suspect_reason(
    candidate: ArticleText, baseline: ArticleText | None, *, cut_short: bool = False
) -> str | None:
    """Why a candidate version does not look like the same article, or None.

    Args:
        candidate: the extraction just made (a different article than the baseline).
        baseline: the current baseline, None for a page's first version.
        cut_short: the body lacks the closing tags the baseline's had (`ends_properly`).

    Returns:
        A short reason for the fetch row: truncated HTML, an error/consent/sign-in title
        the baseline did not have, or a collapse of the text or of its paragraph structure.
    """
    if cut_short:
        return "HTML cut short"
    title = (candidate.title or "").strip()
    if _NOT_AN_ARTICLE.search(title) and not (
        baseline is not None and _NOT_AN_ARTICLE.search(baseline.title or "")
    ):
        return f"not an article page ({title[:60]!r})"
    if baseline is None or len(baseline.paragraphs) < COLLAPSE_MIN_PARAGRAPHS:
        return None
    text_ratio = len(candidate.text) / max(1, len(baseline.text))
    paragraph_ratio = len(candidate.paragraphs) / len(baseline.paragraphs)
    if text_ratio < COLLAPSE_TEXT_RATIO:
        return f"text collapsed to {text_ratio:.0%} of the baseline"
    if paragraph_ratio < COLLAPSE_PARAGRAPH_RATIO and text_ratio < (
        COLLAPSE_TEXT_RATIO_WITH_PARAGRAPHS
    ):
        return f"structure collapsed to {len(candidate.paragraphs)} of {len(baseline.paragraphs)}"
    return None


@dataclass(frozen=True)
class Held:
    """A suspect candidate as the page remembers it."""

    fingerprint: str
    since: datetime


def confirmed(held: Held | None, fingerprint: str, now: datetime, confirm_after: float) -> bool:
    """Whether a suspect candidate is now confirmed: the same content was held before and
    first seen at least `confirm_after` seconds ago (0: the next check confirms)."""
    return (
        held is not None
        and held.fingerprint == fingerprint
        and (now - held.since).total_seconds() >= confirm_after
    )


# --- decoding noise -------------------------------------------------------------------------

#: What one character can turn into when the same bytes are read with another single-byte
#: or UTF-8 decoding: Latin-1 and Latin Extended letters, the windows-1252 punctuation
#: block, U+FFFD, and the ASCII quotes, hyphen and "..." that `normalise` makes of
#: typographic quotes, dashes and the ellipsis. Runs of them are one "maybe mis-decoded"
#: slot; CJK, Cyrillic, letters and digits stay themselves, so a real edit in any script
#: still differs.
_DECODING_NOISE = re.compile(
    "(?:[\u0080-\u024f\u02c6\u02dc\u2013-\u2026\u2030\u2039\u203a\u20ac\u2122\ufffd\"'-]"
    "|\\.\\.\\.)+"
)


def decoding_key(article: ArticleText) -> str:
    """The article's text with every possibly mis-decoded run folded to one placeholder."""
    text = "\n".join([article.title or "", *article.paragraphs])
    return _DECODING_NOISE.sub("\x00", text)


def decoding_only(old: ArticleText, new: ArticleText) -> bool:
    """Whether two extractions differ only where a change of character decoding would
    (the same bytes read as windows-1252 instead of UTF-8, or with U+FFFD): never an edit.
    The price: an edit that only swaps one accented letter for another is not seen."""
    if (old.published, old.modified) != (new.published, new.modified):
        return False
    fold = _DECODING_NOISE.sub
    same_byline = fold("\x00", old.byline or "") == fold("\x00", new.byline or "")
    return same_byline and decoding_key(old) == decoding_key(new)
