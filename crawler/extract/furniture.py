"""What is not the article: furniture lines, appended stories, challenge pages, teasers.

Each of these would otherwise reach the diff as an "edit": a share prompt that comes and goes
with a template deploy, an editor code that changes when another editor re-files, a
Cloudflare interstitial diffed against the story, a paywall teaser that looks like 90 % of
the text was deleted. The lists are small on purpose: a false positive silently loses real
text, so every pattern matches a whole (short) paragraph, never a phrase inside one.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from crawler.extract.article import ArticleText

#: A furniture line is short; anything longer is real text whatever words it starts with.
_MAX_FURNITURE_CHARS = 160

#: Whole-paragraph patterns (matched case-insensitively against normalised text).
_FURNITURE = [
    # Share prompts left behind by social widgets.
    r"(share|share (this|the) (article|story|page)|compartir( (esta|la) nota)?|分享|分享此文)",
    # Focus Taiwan / CNA English editor codes: change with the re-filing editor, never news.
    r"enditem(/[a-z]{1,4})+",
    # Newsletter pleas.
    r"(sign up|subscribe) (for|to) .{0,60}newsletters?.{0,40}",
    r"suscr[ií]bete( a| al)? .{0,60}(bolet[ií]n|newsletter).{0,40}",
    # Related-link lead-ins, alone or followed by the linked headline.
    r"(read more|related|see also|leer m[aá]s|lea (tambi[eé]n|m[aá]s)|te puede interesar)(:.*)?",
    r"(延伸閱讀|相關新聞|更多新聞)(：.*)?",
    # Most-read boxes.
    r"(most read|most popular|lo m[aá]s le[ií]do|熱門新聞)",
    # Copyright notices: CNA's (in its own div.paragraph), and the generic forms.
    r"本網站之文字、圖片及影音，非經授權.*",
    r"(©|copyright ©|copyright \d{4}).{0,120}",
    r"(todos los )?derechos reservados.{0,40}",
    # Ad slot labels.
    r"(advertisement|story continues below advertisement|publicidad|廣告)",
    # A visible date/update stamp alone on a line (CNA's timeBox "2023/8/23 15:06（8/23 15:31
    # 更新）"): it moves on every update, which the dates already record.
    r"(?=.*\d{1,2}:\d{2})[\d\s/.:（）()-]+(更新|updated)?[\s）)]*",
]
_FURNITURE_RE = re.compile("|".join(f"(?:{pattern})" for pattern in _FURNITURE), re.I)

#: Trailing codes stripped from the last words of a paragraph (same reason as above):
#: " Enditem/AW" glued to the paragraph, and CNA Chinese editor credits plus the ROC date
#: code, "（編輯：李亨山）1120823", "（譯者：王嘉語/核稿：嚴思祺）1120823".
_TRAILING_CODES = re.compile(
    r"\s*(enditem(/[a-z]{1,4})+|（[^（）]*(編輯|譯者|核稿)[：:][^（）]*）\s*\d{7})\s*$", re.I
)


def is_furniture(paragraph: str) -> bool:
    """Whether a paragraph is page furniture rather than article text.

    Args:
        paragraph: A normalised paragraph.

    Returns:
        True when the whole paragraph is a share prompt, editor code, newsletter plea,
        related-links lead-in, most-read header, copyright notice, ad label or date stamp.
    """
    text = paragraph.strip()
    return len(text) <= _MAX_FURNITURE_CHARS and _FURNITURE_RE.fullmatch(text) is not None


def strip_editor_codes(paragraph: str) -> str:
    """Remove a trailing editor code / editor credit from a paragraph."""
    return _TRAILING_CODES.sub("", paragraph)


# --- appended stories ---------------------------------------------------------------------


def drop_appended_articles(tree: HtmlElement, own_urls: set[str]) -> None:
    """Remove infinite-scroll stories appended after the requested one (OUTLETS.md lesson 4).

    Args:
        tree: The parsed page; changed in place.
        own_urls: The fetched URL and the page's canonical URL.

    CNA wraps each story in `article[data-canonical-url]`, hoy.com.py in
    `div.scrollblock[data-url]`; trafilatura would take all of them as one body. A block
    with its own headline (`h1`) whose URL is not ours is another story. When no block
    claims our URL, the first one is kept as the story.
    """
    blocks = tree.xpath("//*[@data-canonical-url or @data-url][.//h1]")
    own = {_url_key(url) for url in own_urls}
    keys = [_url_key(block.get("data-canonical-url") or block.get("data-url")) for block in blocks]
    keep = {index for index, key in enumerate(keys) if key in own} or {0}
    for index, block in enumerate(blocks):
        if index not in keep and block.getparent() is not None:
            block.drop_tree()


def _url_key(url: str) -> str:
    """A URL without scheme, query, fragment or trailing slash, to compare page identity."""
    return url.split("://", 1)[-1].split("#", 1)[0].split("?", 1)[0].rstrip("/").lower()


# --- challenge pages ------------------------------------------------------------------------

#: Markers only a bot-protection interstitial carries (never an article that merely loads the
#: vendor's script): Cloudflare's challenge title and its `_cf_chl_opt` / `cf-chl-` / browser
#: verification ids, its block page title; Akamai's "Access Denied ... Reference #" page;
#: DataDome's captcha host; PerimeterX's captcha element; Imperva's incident page.
_STRONG_MARKERS = (
    "_cf_chl_opt",
    "cf-chl-",
    "cf-browser-verification",
    "geo.captcha-delivery.com",
    "px-captcha",
    "incapsula incident id",
)
_CHALLENGE_TITLES = ("just a moment...", "attention required! | cloudflare", "access denied")
_CHALLENGE_TITLE = re.compile(
    r"<title>\s*(" + "|".join(map(re.escape, _CHALLENGE_TITLES)) + r")\s*</title>"
)
#: Vendor scripts that normal article pages load too (the corpus has Incapsula-fronted
#: articles with `_Incapsula_Resource` scripts): a challenge only when the page shows almost
#: no text, as the corpus' real Incapsula interstitials (204 and 817 bytes) do.
_WEAK_MARKERS = (
    "_incapsula_resource",
    "/cdn-cgi/challenge-platform/",
    "captcha",
    "datadome",
    "perimeterx",
)
_BYTE_MARKERS = tuple(
    tuple(marker.encode() for marker in markers)
    for markers in (_STRONG_MARKERS, _CHALLENGE_TITLES, _WEAK_MARKERS)
)
_CHALLENGE_TITLE_BYTES = re.compile(_CHALLENGE_TITLE.pattern.encode())
#: Visible text below this many characters is "almost none" (a challenge page says
#: "Checking your browser..." and little else; the shortest corpus article has ~600).
_CHALLENGE_MAX_TEXT = 300
_SCRIPTS = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.S)
_SCRIPTS_ANY_CASE = re.compile(_SCRIPTS.pattern, re.I | re.S)
_SCRIPTS_BYTES = re.compile(_SCRIPTS.pattern.encode(), re.S)
_TAGS = re.compile(r"<[^>]*>")
_TAGS_BYTES = re.compile(_TAGS.pattern.encode())


def is_challenge_page(html: str | bytes, status: int | None) -> bool:
    """Whether a response is a bot-challenge or block page instead of the article.

    Args:
        html: The response body.
        status: The HTTP status (403, 429 and 503 are what challenges usually carry; a 200
            challenge exists too, so the markers decide, not the status).

    Returns:
        True for a strong vendor marker, or a weak one on a page with almost no visible
        text. Conservative: a real article that loads a protection script stays False.
    """
    # The markers are ASCII, searched as literals in a lower-cased copy (case-insensitive
    # regexes took ~10 ms a page, one regex alternation ~1.6 ms, literal scans ~0.3 ms).
    # Bytes are lowered as bytes (ASCII letters only): a UTF-8 character never contains an
    # ASCII byte, so the bytes hold a marker exactly when their decoded text does.
    lowered = html.lower()
    if isinstance(lowered, bytes):
        strong, titles, weak = _BYTE_MARKERS
        title = _CHALLENGE_TITLE_BYTES
    else:
        strong, titles, weak, title = (
            _STRONG_MARKERS,
            _CHALLENGE_TITLES,
            _WEAK_MARKERS,
            _CHALLENGE_TITLE,
        )
    if any(marker in lowered for marker in strong):
        return True
    if any(words in lowered for words in titles) and title.search(lowered):
        return True
    if not any(marker in lowered for marker in weak):
        return False
    return _visible_chars(html) < _CHALLENGE_MAX_TEXT * (3 if status in (403, 429, 503) else 1)


def _visible_chars(html: str | bytes) -> int:
    """Length of the page's text outside tags, scripts and styles, whitespace collapsed.

    Bytes are stripped as bytes, lowered as ASCII (tags are ASCII, and a UTF-8 character
    never contains an ASCII byte), and only what is left is decoded: the same count as
    decoding first, without the Unicode lowering of the whole page (~1.8 ms of the ~4.5 ms
    this took on a page with a weak marker; a fifth of the corpus' articles load a captcha
    script). For text, when lowering keeps every character one character (nearly always),
    tag and whitespace positions are unchanged, so the lower-cased text (searched without
    `re.I`) gives the same length as the original.
    """
    if isinstance(html, bytes):
        stripped = _TAGS_BYTES.sub(b" ", _SCRIPTS_BYTES.sub(b" ", html.lower()))
        return len(" ".join(stripped.decode("utf-8", errors="replace").split()))
    text = html
    lowered = text.lower()
    if len(lowered) == len(text):
        stripped = _SCRIPTS.sub(" ", lowered)
    else:
        stripped = _SCRIPTS_ANY_CASE.sub(" ", text)
    return len(" ".join(_TAGS.sub(" ", stripped).split()))


# --- truncated bodies -------------------------------------------------------------------------

#: The previous version must have had a real body for a collapse to mean anything.
TRUNCATION_MIN_PREVIOUS_PARAGRAPHS = 4
#: A teaser is typically the first one to three paragraphs of a 10-30 paragraph story, so
#: well under a third of it; a genuine trim of a story rarely removes two thirds at once.
TRUNCATION_MAX_RATIO = 0.35
#: A paywalled page (JSON-LD `isAccessibleForFree: false`) with less text than this is a
#: teaser even without a previous version (WaPo serves the full text with the same flag, so
#: the flag alone means nothing).
PAYWALL_TINY_CHARS = 600


def looks_truncated(new: ArticleText, previous: ArticleText | None) -> bool:
    """Whether `new` is a paywall teaser / stub of the article rather than an edit of it.

    Args:
        new: The extraction just made.
        previous: The last stored version, if any.

    Returns:
        True when the body collapsed: `previous` had at least
        `TRUNCATION_MIN_PREVIOUS_PARAGRAPHS` paragraphs, `new` has less than
        `TRUNCATION_MAX_RATIO` of its text and reads as its beginning (see `_is_prefixish`);
        or the page declares itself not free and carries under `PAYWALL_TINY_CHARS`
        characters (and, with a previous version, is also under the ratio). An empty `new` is
        not "truncated": no body at all is the caller's empty-page case.
    """
    size = len(new.text)
    if size == 0:
        return False
    shrunk = previous is not None and size < TRUNCATION_MAX_RATIO * len(previous.text)
    if new.accessible_for_free is False and size < PAYWALL_TINY_CHARS:
        return previous is None or shrunk
    return (
        previous is not None
        and shrunk
        and len(previous.paragraphs) >= TRUNCATION_MIN_PREVIOUS_PARAGRAPHS
        and _is_prefixish(new.paragraphs, previous.paragraphs)
    )


def _is_prefixish(teaser: tuple[str, ...], full: tuple[str, ...]) -> bool:
    """Whether the teaser opens like the full text and mostly repeats its paragraphs.

    The first teaser paragraph must begin one of the first three full paragraphs (teasers
    often cut it mid-sentence, with "..." appended), and at least half of the teaser
    paragraphs must begin some full paragraph (the rest is the "subscribe" plea).
    """

    def starts_some(paragraph: str, candidates: tuple[str, ...]) -> bool:
        stem = paragraph.rstrip(". ")
        return bool(stem) and any(candidate.startswith(stem) for candidate in candidates)

    matched = sum(starts_some(paragraph, full) for paragraph in teaser)
    return starts_some(teaser[0], full[:3]) and matched * 2 >= len(teaser)
