"""Discovery helpers: which links a feed, sitemap or listing offers, and which are articles.

Parsing and policy only (practice 5): the spiders fetch with Scrapy and hand the bytes here;
nothing in this module fetches by itself (unlike trafilatura's `find_feed_urls`). Feeds are
parsed by feedparser, sitemaps by lxml's `iterparse` with the same hardening Scrapy's own
`Sitemap` uses (recover, no entities, no PIs), robots.txt by Protego (Scrapy's robots.txt
parser), HTML by parsel. Neither Scrapy nor SQLAlchemy is imported (a domain package: see
`tests/test_layout.py`); the spiders keep the seen-URL memory in storage.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from parsel import Selector
from protego import Protego

from crawler.fetch.urls import host_of, is_http_url

#: Path segments that never start an article: people, tags, sections, media, search, paging
#: (OUTLETS.md: ABC's `autor`, `tv`, `fotos`…; WordPress `tag`, `category`, `author`, `feed`).
NON_ARTICLE_SEGMENTS = frozenset(
    """
    autor autores author authors tag tags etiqueta etiquetas category categoria categorias
    categories topic topics tv radio podcast podcasts video videos foto fotos photo photos
    gallery galleries galeria galerias multimedia buscar search ultimas-noticias page feed feeds
    rss amp wp-content wp-json wp-admin wp-login.php login newsletter newsletters suscripciones
    """.split()  # noqa: SIM905 - a word list reads better as words than as 45 quoted strings
)
#: File types that are never an article page.
NON_ARTICLE_EXTENSIONS = (
    ".pdf",
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".svg",
    ".mp3",
    ".mp4",
    ".m4a",
    ".mov",
    ".zip",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".xml",
    ".gz",
    ".json",
    ".rss",
)
#: `<link rel="alternate">` types that announce a feed.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
#: feedparser complaints about encodings, not about the feed's structure.
_BENIGN_BOZO = (CharacterEncodingOverride, NonXMLContentType)
#: Focus Taiwan's listing API gives Taiwan time without an offset (OUTLETS.md).
TAIWAN_TIME = timezone(timedelta(hours=8))
_FT_TIME_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")


class DiscoveryError(ValueError):
    """An endpoint answered with something that is not the feed / sitemap / listing expected."""


@dataclass(frozen=True)
class DiscoveredLink:
    """A link an outlet offers, before we know whether it is new or an article."""

    url: str
    """Absolute URL as found (not yet normalised)."""
    title: str | None = None
    """Headline the endpoint gives, if any (feeds, news sitemaps, listing JSON)."""
    published: datetime | None = None
    """Aware UTC publication (or last-modified) time the endpoint gives, if any."""
    found_in: str = ""
    """URL of the feed, sitemap or listing that offered the link."""


@dataclass(frozen=True)
class SitemapPage:
    """One parsed sitemap document: article links (`urlset`) or child sitemaps (index)."""

    kind: str
    """"urlset" or "sitemapindex"."""
    links: tuple[DiscoveredLink, ...]


# --- which links are articles ------------------------------------------------------------------


def skip_reason(
    url: str, hosts: Iterable[str] = (), path_pattern: re.Pattern[str] | str | None = None
) -> str | None:
    """Say why `url` is not an article page of the outlet, or return None when it may be one.

    Args:
        url: an absolute link.
        hosts: the outlet's hosts (`www.` folded); empty accepts any host.
        path_pattern: the outlet's article-path regex, searched in the percent-encoded path.

    Returns:
        "offsite", "not http(s)", "file type .pdf", "section /tag/", "home page",
        "outside the article pattern", or None.
    """
    if not is_http_url(url):
        return "not http(s)"
    hosts = frozenset(hosts)
    if hosts and host_of(url) not in hosts:
        return "offsite"
    path = urlsplit(url).path
    lowered = unquote(path).lower()
    if lowered.endswith(NON_ARTICLE_EXTENSIONS):
        return f"file type {lowered[lowered.rfind('.') :]}"
    segments = [s for s in lowered.split("/") if s]
    if not segments:
        return "home page"
    for segment in segments:
        if segment in NON_ARTICLE_SEGMENTS:
            return f"section /{segment}/"
    if path_pattern is not None and not re.search(path_pattern, path):
        return "outside the article pattern"
    return None


def strip_query(url: str) -> str:
    """Drop query and fragment: for outlets whose query strings only track (ABC Color)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def older_than(link: DiscoveredLink, since: datetime | None) -> bool:
    """True when the endpoint dates the link before `since` (undated links are kept)."""
    return since is not None and link.published is not None and link.published < since


# --- feeds ---------------------------------------------------------------------------------------


def parse_feed(body: bytes, url: str) -> list[DiscoveredLink]:
    """The entries of an RSS or Atom feed, from the bytes Scrapy fetched.

    feedparser is given bytes, never a URL, so it cannot fetch by itself. A feed that is not
    well-formed is refused whole even when feedparser's loose parser recovers entries: a
    truncated or mangled feed says the endpoint is broken, and that must be reported.

    Args:
        body: the response body.
        url: the feed's URL (relative links are resolved against it; named in errors).

    Returns:
        One link per entry with a link, in feed order.

    Raises:
        DiscoveryError: when the body is not a feed (HTML, empty) or is malformed XML.
    """
    if problem := _not_xml(body):
        raise DiscoveryError(f"{url} is not an RSS or Atom feed ({problem})")
    parsed = feedparser.parse(body, response_headers={"content-location": url})
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(problem, _BENIGN_BOZO):
        raise DiscoveryError(f"feed {url} is malformed XML: {problem}")
    if not parsed.get("version"):
        raise DiscoveryError(f"{url} is not an RSS or Atom feed ({_sniff(body)})")
    return [link for entry in parsed.entries if (link := _entry_link(entry, url))]


def _entry_link(entry: Any, feed_url: str) -> DiscoveredLink | None:
    """One feed entry as a link; feedburner's `origLink` wins over its redirect link."""
    href = entry.get("feedburner_origlink") or entry.get("link")
    if not href:
        return None
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
    return DiscoveredLink(urljoin(feed_url, href.strip()), entry.get("title"), published, feed_url)


def _looks_like_html(body: bytes) -> bool:
    """An HTML document (an error or landing page) where XML or JSON was expected."""
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]


def _sniff(body: bytes) -> str:
    """A few words on what a body that should have been XML or JSON looks like."""
    if not body.strip():
        return "empty body"
    if _looks_like_html(body):
        return "HTML page"
    return f"starts with {body[:40]!r}"


def _not_xml(body: bytes) -> str | None:
    """Why a body cannot be an XML document at all (empty, HTML, JSON…), or None."""
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or _looks_like_html(body):
        return _sniff(body)
    return None


def feed_urls_in_html(html: str | bytes, base_url: str) -> list[str]:
    """Feeds a page announces with `<link rel="alternate" type="application/rss+xml">` & co."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    found = []
    for link in Selector(text=text).xpath("//link[@href]"):
        rels = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES:
            found.append(urljoin(base_url, link.attrib["href"].strip()))
    return list(dict.fromkeys(found))


# --- sitemaps and robots.txt -----------------------------------------------------------------


def _local(tag: object) -> str:
    """An element's tag without its namespace ("" for comments and the like)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _gunzip(body: bytes, max_size: int) -> bytes:
    """Inflate a gzip body, refusing one that grows beyond `max_size` bytes (0: no limit)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, max_size or 0)
    if max_size and (inflater.unconsumed_tail or len(out) > max_size):
        raise ValueError(f"inflates beyond {max_size} bytes")
    if not inflater.eof:
        raise EOFError("truncated gzip stream")
    return out


def _sitemap_entries(body: bytes) -> tuple[str, list[dict[str, str]]]:
    """The root tag and each `<url>`/`<sitemap>` entry's direct children and Google News fields.

    Streamed with `iterparse`, each entry cleared once read, so a 50 MB sitemap never becomes
    one tree in memory.
    """
    events = lxml.etree.iterparse(
        io.BytesIO(body), events=("start", "end"), recover=True, remove_comments=True,
        resolve_entities=False, remove_pis=True, collect_ids=False, no_network=True,
    )  # fmt: skip
    _, root = next(events)
    entries: list[dict[str, str]] = []
    for event, elem in events:
        if event != "end" or _local(elem.tag) not in ("url", "sitemap"):
            continue
        entry = {_local(el.tag): (el.text or "").strip() for el in elem if _local(el.tag)}
        for el in elem.iter():
            if isinstance(el.tag, str) and "sitemap-news" in el.tag:
                entry["news_" + _local(el.tag)] = (el.text or "").strip()
        elem.clear()
        if entry.get("loc"):
            entries.append(entry)
    return _local(root.tag), entries


def parse_sitemap(body: bytes, url: str, max_size: int = 0) -> SitemapPage:
    """A sitemap or sitemap index (plain or gzipped; Google News sitemaps included).

    Args:
        body: the response body (gzip is recognised by its magic number, as Scrapy does).
        url: the sitemap's URL (named in errors; relative `loc`s resolve against it).
        max_size: refuse a gzipped body that inflates beyond this many bytes (0: no limit).

    Returns:
        The document's kind and its links; for an index, the links are child sitemaps.

    Raises:
        DiscoveryError: on a body that is not a sitemap (HTML, empty, broken gzip).
    """
    if body[:3] == b"\x1f\x8b\x08":
        try:
            body = _gunzip(body, max_size)
        except (zlib.error, EOFError, ValueError) as exc:
            raise DiscoveryError(f"sitemap {url} is not valid gzip: {exc}") from exc
    if problem := _not_xml(body):
        raise DiscoveryError(f"{url} is not a sitemap ({problem})")
    try:
        kind, entries = _sitemap_entries(body)
    except (lxml.etree.XMLSyntaxError, StopIteration) as exc:
        raise DiscoveryError(f"{url} is not a sitemap ({_sniff(body)})") from exc
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"{url} is not a sitemap (root element <{kind}>)")
    return SitemapPage(kind, tuple(_sitemap_link(entry, url) for entry in entries))


def _sitemap_link(entry: dict[str, str], sitemap_url: str) -> DiscoveredLink:
    """One `<url>` / `<sitemap>` entry; the news publication date wins over `lastmod`."""
    stamp = entry.get("news_publication_date") or entry.get("lastmod")
    loc = urljoin(sitemap_url, entry["loc"])
    return DiscoveredLink(loc, entry.get("news_title") or None, parse_time(stamp), sitemap_url)


def robots_sitemaps(body: bytes, base_url: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt, absolute and without repeats."""
    robots = Protego.parse(body.decode("utf-8", "replace"))
    return list(dict.fromkeys(urljoin(base_url, url) for url in robots.sitemaps))


def parse_time(value: str | None, default_tz: timezone = UTC) -> datetime | None:
    """An ISO 8601 date or time as aware UTC; None when absent or unreadable."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=default_tz)
    return stamp.astimezone(UTC)


# --- listings ----------------------------------------------------------------------------------


def listing_links(html: str | bytes, base_url: str) -> list[DiscoveredLink]:
    """Every `<a href>` of a listing page, absolute, first occurrence only, with its text."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    seen: dict[str, DiscoveredLink] = {}
    for anchor in Selector(text=text).css("a[href]"):
        url = urljoin(base_url, anchor.attrib["href"].strip())
        title = " ".join(" ".join(anchor.css("::text").getall()).split()) or None
        seen.setdefault(url, DiscoveredLink(url, title, None, base_url))
    return list(seen.values())


def parse_ftnewslist(body: bytes, url: str) -> list[DiscoveredLink]:
    """Focus Taiwan's `FTNewsList` answer: `{"Result":"Y","ResultData":{"Items":[…]}}`.

    Args:
        body: the JSON response body.
        url: the API URL (named in errors).

    Returns:
        One link per item (`PageUrl`, `HeadLine`, `CreateTime` read as Taiwan time).

    Raises:
        DiscoveryError: when the body is not that JSON or says `Result` is not "Y".
    """
    try:
        data = json.loads(body)
        items = data["ResultData"]["Items"] if data.get("Result") == "Y" else None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DiscoveryError(f"{url} is not a FTNewsList answer ({_sniff(body)})") from exc
    if not isinstance(items, list):
        raise DiscoveryError(f"{url} answered Result={data.get('Result')!r} without items")
    return [
        DiscoveredLink(
            urljoin(url, item["PageUrl"]),
            item.get("HeadLine"),
            _taiwan_time(item.get("CreateTime")),
            url,
        )
        for item in items
        if isinstance(item, dict) and item.get("PageUrl")
    ]


def _taiwan_time(value: Any) -> datetime | None:
    """`CreateTime` of the listing API (Taiwan time, several spellings) as aware UTC."""
    if not isinstance(value, str):
        return None
    for fmt in _FT_TIME_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=TAIWAN_TIME).astimezone(UTC)
        except ValueError:
            continue
    return parse_time(value, TAIWAN_TIME)
