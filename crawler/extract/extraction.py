"""Extraction: one fetched page in, one `ArticleText` out, plus the hashes that identify it.

The body comes from trafilatura; the metadata that decides what a "change" is (headline
variants, published and modified times, byline) is read from the page ourselves, in the order
of trust of OUTLETS.md lesson 1: JSON-LD, then `article:*` meta tags, then htmldate. The URL
date is never used: WaPo files stories under the day before their JSON-LD publication time.

Pure module: no Scrapy, no SQLAlchemy. It reads no settings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin

import htmldate
import trafilatura
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_title

from crawler.extract.article import BODY_COMPRESSION_LEVEL, ArticleText, PageExtraction
from crawler.extract.furniture import (
    drop_appended_articles,
    is_challenge_page,
    is_furniture,
    looks_truncated,
    strip_editor_codes,
)
from crawler.extract.identity import EXTRACTOR_NAME, EXTRACTOR_VERSION, RULES_VERSION
from crawler.extract.normalise import decode_html, fingerprint, normalise, text_hash

__all__ = [
    "BODY_COMPRESSION_LEVEL",
    "EXTRACTOR_NAME",
    "EXTRACTOR_VERSION",
    "MAX_HTML_CHARS",
    "RULES_VERSION",
    "decode_html",
    "extract_article",
    "extract_page",
    "fingerprint",
    "is_challenge_page",
    "looks_truncated",
    "normalise",
    "text_hash",
]

LOGGER = logging.getLogger(__name__)

#: HTML beyond this many characters is cut before parsing. Real article pages are 50 KB to
#: 2 MB (fundus' Börsen-Zeitung pages are the largest in the corpus, 2.2 MB); a bigger page is
#: inlined data or a runaway template, and parsing it would stall the crawl for seconds.
MAX_HTML_CHARS = 3_000_000

#: A page has a tag near its start; PDFs, images, JSON and plain text do not.
_HTML_SNIFF_CHARS = 65536
_LOOKS_LIKE_HTML = re.compile(r"<(!doctype|html|head|body|[a-z][a-z0-9]*[\s/>])", re.I)

#: Tags of trafilatura's output tree that make a paragraph of their own; an element with
#: such children (list, quote, table, a stray div) is split into them.
_BLOCKS = {"p", "head", "item", "row", "list", "quote", "table", "code", "div", "section"}
_CELL_SEPARATOR = " | "
#: `_best_body`: share of the default paragraphs the favor_recall run must keep, and how
#: much longer (in characters) it may be.
_RECALL_MIN_SHARED = 0.9
_RECALL_MAX_GROWTH = 1.5
#: What trafilatura's default mode discards and favor_recall keeps by name: blocks whose class
#: or id says "teaser" (its TEASER_DISCARD_XPATH, here on the raw tags its tag conversion
#: turns into div/p/section/span/list/item). WaPo puts its lede in such a block.
_TEASER_BLOCKS = XPath(
    "//*[self::div or self::p or self::section or self::span or self::ul or self::ol"
    " or self::dl or self::li or self::dd or self::dt]"
    "[contains(translate(@id, 'T', 't'), 'teaser')"
    " or contains(translate(@class, 'T', 't'), 'teaser')]"
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|Report)$")


@dataclass
class _PageMeta:
    """What we read from the page itself, before trafilatura sees it."""

    headlines: dict[str, str] = field(default_factory=dict)
    published: str | None = None
    published_guessed: bool = False
    modified: str | None = None
    byline: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    accessible_for_free: bool | None = None


def extract_article(html: str | bytes, url: str, content_type: str | None = None) -> ArticleText:
    """Extract the article text and metadata of one page.

    Args:
        html: The response body; bytes are decoded by `decode_html`.
        url: The URL the page was fetched from (resolves a relative canonical link).
        content_type: the response's Content-Type header; its charset decodes the bytes.

    Returns:
        An `ArticleText` with normalised strings. A page that is not HTML, is empty or has
        no recognisable body gives an `ArticleText` with no paragraphs (and `title` None when
        nothing at all could be read): what an empty body means is the caller's decision.
    """
    text = decode_html(html, content_type) if isinstance(html, bytes) else html
    tree = _parse(text[:MAX_HTML_CHARS])
    if tree is None:
        return ArticleText(title=None, paragraphs=())
    meta = _read_page_meta(tree, url)
    drop_appended_articles(tree, {url, meta.canonical_url or url})
    document = _run_trafilatura(tree, url)
    # A teaser block's class or id spells "teaser" or "Teaser" in the HTML: a 0.1 ms scan
    # spares the 2 ms XPath on the ~90 % of pages without one.
    recall_can_matter = "easer" in text and _has_teaser_text(tree)
    paragraphs = _best_body(tree, url, document, meta.headlines.values(), recall_can_matter)
    # trafilatura's metadata only fills what the page's own markup left empty (a byline
    # without JSON-LD, a title without any headline): skipped when not needed, and not
    # read when trafilatura found no body (as when both came from one run). Last reader of
    # the tree: trafilatura's body extraction works on its own copy, so no copy is needed.
    needed = document is not None and not (meta.byline and meta.headlines)
    fallback = (
        _trafilatura_metadata(tree, url, title=not meta.headlines, author=not meta.byline)
        if needed
        else None
    )
    return ArticleText(
        title=_pick_title(meta.headlines, fallback),
        paragraphs=paragraphs,
        headlines=meta.headlines,
        byline=meta.byline or _document_field(fallback, "author"),
        published=meta.published,
        published_guessed=meta.published_guessed,
        modified=meta.modified,
        language=meta.language,
        canonical_url=meta.canonical_url,
        accessible_for_free=meta.accessible_for_free,
    )


def extract_page(
    body: bytes, status: int | None, url: str, content_type: str | None = None
) -> PageExtraction:
    """The challenge check, the extraction, its hashes and the compressed body of one
    response: one call per page, so a process pool pays one round trip for all of it."""
    if is_challenge_page(body, status):
        return PageExtraction(challenge=True)
    article = extract_article(body, url, content_type)
    article_text_hash = text_hash(article)
    return PageExtraction(
        challenge=False,
        article=article,
        fingerprint=fingerprint(article, article_text_hash),
        text_hash=article_text_hash,
        compressed_body=zlib.compress(body, BODY_COMPRESSION_LEVEL),
    )


def _parse(text: str) -> HtmlElement | None:
    """Parse HTML the way trafilatura does; None for empty, binary or non-HTML input."""
    if not _LOOKS_LIKE_HTML.search(text, 0, _HTML_SNIFF_CHARS):
        return None
    try:
        return trafilatura.load_html(text)
    except ValueError as error:  # lxml refuses some control characters and encodings
        LOGGER.info("unparseable page: %s", error)
        return None


def _run_trafilatura(
    tree: HtmlElement, url: str, *, favor_recall: bool = False
) -> trafilatura.settings.Document | None:
    """Trafilatura's body on a copy of our tree; comments excluded (they change without an
    edit). No metadata: it does not change the body (`_trafilatura_metadata` when needed)."""
    try:
        return trafilatura.bare_extraction(
            tree,
            url=url,
            deduplicate=False,  # True uses a process-wide cache: repeat runs differ (STACK-NOTES)
            include_comments=False,
            favor_recall=favor_recall,
            with_metadata=False,
        )
    # trafilatura has raised assorted errors on malformed pages; such a page has no body,
    # which the caller records like any other empty extraction.
    except Exception:
        LOGGER.warning("trafilatura failed on %s", url, exc_info=True)
        return None


def _trafilatura_metadata(
    tree: HtmlElement, url: str, *, title: bool, author: bool
) -> trafilatura.settings.Document | None:
    """trafilatura's title and/or author of the page; None if it fails.

    The first steps of `trafilatura.metadata.extract_metadata`, in its order (meta tags,
    JSON-LD, then the markup) and with its clean-up, without what we discard (URL, date,
    site name, categories, tags, licence: about half its cost) and without the step whose
    field is not needed. Reads the tree only (its author search works on its own copy).
    """
    try:
        document = examine_meta(tree)
        if document.author and " " not in document.author:
            document.author = None  # as extract_metadata does
        try:
            document = extract_meta_json(tree, document)
        except Exception:  # extract_metadata tolerates bugs of its JSON-LD parser too
            LOGGER.debug("trafilatura JSON-LD metadata failed on %s", url, exc_info=True)
        if title and not document.title:
            document.title = extract_title(tree)
        if author and not document.author:
            document.author = extract_author(tree)
        document.clean_and_trim()
        return document
    except Exception:  # same assorted errors as the body extraction
        LOGGER.warning("trafilatura metadata failed on %s", url, exc_info=True)
        return None


def _document_field(document: Any, name: str) -> str | None:
    """A metadata string from trafilatura's result, normalised; None when absent."""
    value = getattr(document, name, None) if document is not None else None
    return (normalise(value) or None) if isinstance(value, str) else None


def _pick_title(headlines: dict[str, str], document: Any) -> str | None:
    """The headline an editor sees: h1, og:title, JSON-LD, <title>, trafilatura's title."""
    for key in ("h1", "og:title", "jsonld", "title"):
        if headlines.get(key):
            return headlines[key]
    return _document_field(document, "title")


# --- body -----------------------------------------------------------------------------


def _best_body(
    tree: HtmlElement, url: str, document: Any, headlines: Any, recall_can_matter: bool
) -> tuple[str, ...]:
    """The default extraction, or the favor_recall one when it can matter and only adds to it.

    Default trafilatura drops the lede of both WaPo pages in the corpus (the 2020 one loses
    its first two paragraphs): it sits in a "teaser" block, which favor_recall keeps. On
    other layouts recall mode adds noise or picks the wrong block, so it runs only on a page
    with a teaser block that has text (`recall_can_matter`, ~10 % of the corpus), and wins
    only when it keeps nearly all of the default paragraphs (`_RECALL_MIN_SHARED`) and adds
    at most `_RECALL_MAX_GROWTH`. Measured on the corpus: run on every page, the recall pass
    was kept on 160 of 1200 and lowered F1 (scrapinghub 0.9683 -> 0.9673, trafilatura's
    snippet eval 0.8953 -> 0.8909); behind the trigger it keeps 33 of them, both WaPo ledes
    among them, for ~1/10 of its cost.
    """
    headlines = tuple(headlines)
    precise = _clean_paragraphs(_paragraphs(document), headlines)
    if not recall_can_matter:
        return precise
    recalled = _clean_paragraphs(
        _paragraphs(_run_trafilatura(tree, url, favor_recall=True)), headlines
    )
    return recalled if _only_adds(precise, recalled) else precise


def _has_teaser_text(tree: HtmlElement) -> bool:
    """Whether a block that default trafilatura discards as a teaser holds any text."""
    return any(text.strip() for block in _TEASER_BLOCKS(tree) for text in block.itertext())


def _only_adds(base: tuple[str, ...], candidate: tuple[str, ...]) -> bool:
    """Whether `candidate` keeps nearly all of `base` and is not much longer."""
    if not base or not candidate:
        return bool(candidate) and not base
    shared = len(set(base) & set(candidate)) / len(set(base))
    growth = sum(map(len, candidate)) / max(1, sum(map(len, base)))
    return shared >= _RECALL_MIN_SHARED and growth <= _RECALL_MAX_GROWTH


def _paragraphs(document: Any) -> Iterator[str]:
    """Normalised text of each block of trafilatura's body tree, in document order."""
    body = getattr(document, "body", None)
    if body is not None:
        yield from _children_texts(body)


def _children_texts(parent: Any) -> Iterator[str]:
    """The paragraphs inside a container: loose text and tails count as paragraphs too."""
    yield normalise(parent.text or "")
    for child in parent:
        yield from _block_texts(child)
        yield normalise(child.tail or "")


def _block_texts(element: Any) -> Iterator[str]:
    """One string per paragraph-like element (per line, where it has `<lb/>` breaks)."""
    if element.tag == "row":
        cells = (" ".join(filter(None, _lines(cell))) for cell in element)
        yield _CELL_SEPARATOR.join(cell for cell in cells if cell)
    elif any(child.tag in _BLOCKS for child in element):
        yield from _children_texts(element)
    else:
        yield from _lines(element)


def _lines(element: Any) -> list[str]:
    """The element's text split at its `<lb/>` line breaks, each line normalised."""
    lines: list[list[str]] = [[]]
    _collect_lines(element, lines)
    return [normalise("".join(parts)) for parts in lines]


def _collect_lines(element: Any, lines: list[list[str]]) -> None:
    """Append the text under `element` to `lines`, starting a new line at each `<lb/>`."""
    lines[-1].append(element.text or "")
    for child in element:
        if child.tag == "lb":
            lines.append([])
        else:
            _collect_lines(child, lines)
        lines[-1].append(child.tail or "")


def _clean_paragraphs(raw: Iterator[str], headlines: Any) -> tuple[str, ...]:
    """Drop empties, furniture and a repeated headline; strip editor codes."""
    repeated = set(headlines)
    kept: list[str] = []
    for paragraph in raw:
        text = strip_editor_codes(paragraph)
        if not text or is_furniture(text) or (not kept and text in repeated):
            continue
        kept.append(text)
    return tuple(kept)


# --- page metadata ------------------------------------------------------------------------


def _read_page_meta(tree: HtmlElement, url: str) -> _PageMeta:
    """Headline variants, dates, byline, language and canonical URL from the markup."""
    article = _jsonld_article(tree)
    meta = _PageMeta(
        headlines=_headlines(tree, article),
        byline=_jsonld_byline(article),
        language=_language_code(tree.get("lang")),
        canonical_url=_canonical(tree, url),
        accessible_for_free=_flag(article.get("isAccessibleForFree")),
    )
    meta.published = (
        _iso(article.get("datePublished"))
        or _iso(_meta_content(tree, "article:published_time"))
        or _roc_stamp(tree)
    )
    meta.modified = _iso(article.get("dateModified")) or _iso(
        _meta_content(tree, "article:modified_time")
    )
    if not meta.published:
        meta.published = _htmldate_published(tree)
        meta.published_guessed = meta.published is not None
    return meta


def _headlines(tree: HtmlElement, article: dict[str, Any]) -> dict[str, str]:
    """The four headline variants of OUTLETS.md lesson 2; a missing one is left out."""
    found = {
        "h1": _first_text(tree.xpath("//article//h1 | //main//h1") or tree.xpath("//h1")),
        "og:title": normalise(_meta_content(tree, "og:title") or ""),
        "title": _first_text(tree.xpath("//head/title") or tree.xpath("//title")),
        "jsonld": _string(article.get("headline")),
    }
    return {key: value for key, value in found.items() if value}


def _first_text(elements: list[Any]) -> str:
    """Normalised text of the first element that has any."""
    for element in elements:
        text = normalise("".join(element.itertext()))
        if text:
            return text
    return ""


def _string(value: Any) -> str:
    """A JSON-LD value as normalised text ("" if not a string); CMSs often leave HTML
    entities (`&amp;`, `&#8217;`, `&shy;`) in it."""
    return normalise(unescape(value)) if isinstance(value, str) else ""


def _meta_content(tree: HtmlElement, name: str) -> str | None:
    """`content` of `<meta property=name>` or `<meta name=name>`."""
    values = tree.xpath("//meta[@property=$n or @name=$n]/@content", n=name)
    return str(values[0]) if values else None


def _canonical(tree: HtmlElement, url: str) -> str | None:
    """`<link rel=canonical>` resolved against the fetched URL."""
    for link in tree.xpath("//link[@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return urljoin(url, link.get("href").strip()) or None
    return None


def _language_code(value: str | None) -> str | None:
    """ISO 639-1 code from a language tag: `zh-Hant-TW` -> `zh`, `es_PY` -> `es`."""
    primary = re.split(r"[-_]", (value or "").strip().lower(), maxsplit=1)[0]
    return primary if len(primary) == 2 and primary.isalpha() else None


def _iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 (offset kept as stated); None when it is not one."""
    text = value.strip() if isinstance(value, str) else ""
    if _DAY.fullmatch(text):
        return text  # a day stays a day, not midnight of an unknown zone
    try:
        return datetime.fromisoformat(text).isoformat() if text else None
    except ValueError:
        LOGGER.debug("not an ISO 8601 date: %r", value)
        return None


def _flag(value: Any) -> bool | None:
    """A JSON-LD boolean, which pages write as true/false or "True"/"false" strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


#: A Republic of China calendar date ("115-05-08", "115年05月16日"): year + 1911.
_ROC_DATE = re.compile(r"^\s*(1\d\d)\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?\s*$")


def _roc_stamp(tree: HtmlElement) -> str | None:
    """The Presidential Office's own date stamp (`div.pageDate1`, ROC calendar).

    Its pages carry no JSON-LD or meta date, and htmldate would pick a date out of the
    related-news carousel instead (OUTLETS.md, president.gov.tw).
    """
    for text in tree.xpath("//div[contains(@class, 'pageDate1')]/text()")[:1]:
        match = _ROC_DATE.match(text)
        if match:
            year, month, day = int(match[1]) + 1911, int(match[2]), int(match[3])
            with contextlib.suppress(ValueError):
                return date(year, month, day).isoformat()
    return None


def _htmldate_published(tree: HtmlElement) -> str | None:
    """htmldate's publication day, blind to the URL.

    `url=""` (not None) stops htmldate from reading a date out of the fetched URL and out of
    `<link rel=canonical>`; only a `<meta name="og:url">` (rare: og uses `property`) can still
    serve it as a last resort.
    """
    try:
        return htmldate.find_date(tree, url="", original_date=True, extensive_search=True)
    except ValueError:  # malformed dates inside the page
        return None


# --- JSON-LD --------------------------------------------------------------------------


def _jsonld_article(tree: HtmlElement) -> dict[str, Any]:
    """The page's JSON-LD article object (NewsArticle, BlogPosting, ...), else {}."""
    objects = list(_jsonld_objects(tree))
    for obj in objects:
        types = obj.get("@type")
        names = types if isinstance(types, list) else [types]
        if any(isinstance(name, str) and _ARTICLE_TYPE.search(name) for name in names):
            return obj
    return next((obj for obj in objects if "datePublished" in obj), {})


def _jsonld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every top-level object of every JSON-LD script, `@graph` members included."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        for obj in data if isinstance(data, list) else [data]:
            if isinstance(obj, dict):
                yield obj
                graph = obj.get("@graph")
                if isinstance(graph, list):
                    yield from (member for member in graph if isinstance(member, dict))


def _jsonld_byline(article: dict[str, Any]) -> str | None:
    """Author names from JSON-LD `author` (string, object or list), joined by "; "."""
    authors = article.get("author")
    items = authors if isinstance(authors, list) else [authors]
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    cleaned = [_string(name) for name in names if isinstance(name, str) and name.strip()]
    return "; ".join(dict.fromkeys(cleaned)) or None
