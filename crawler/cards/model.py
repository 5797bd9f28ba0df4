"""Event card model: what a parsed card holds, and the checks every layout applies.

A card is where monitoring starts: its sources become watched URLs and its "What to watch"
bullets become the watch items every later change is related to. So the parser is lenient with
whitespace and with sections it does not need (they are kept raw in `Card.sections`), and strict
with what the crawl depends on: a title, a canonical URL (the slug), sources with fetchable
http(s) URLs, non-empty watch items. Every `CardError` names the line to fix.

This module holds the `Card` model, its error type and the checks both layouts share; the
Markdown layout is parsed in `crawler.cards.markdown`, the YAML one in `crawler.cards.yaml_card`,
and `crawler.cards.parse.parse_card` picks one. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import unquote, urlsplit

from crawler.fetch.guard import AddressGuard, env_allowed_hosts
from crawler.fetch.urls import url_key, url_problem

logger = logging.getLogger(__name__)

#: Cards are a few kilobytes; anything near this is a wrong file, not a card.
MAX_CARD_BYTES = 1_000_000
#: Longest outlet name and region the store keeps (`String(200)` / `String(100)` columns in
#: storage/models.py; tests/test_cards.py keeps them in step). PostgreSQL refuses longer
#: values with a DataError and SQLite silently keeps them, so the parser refuses them.
MAX_OUTLET_CHARS = 200
MAX_REGION_CHARS = 100
MAX_TYPE_CHARS = 50

LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_LINK_RE = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_TYPE_PREFIX_RE = re.compile(r"^[A-Za-z]+:\s*(?=\S)")
_TERM_SPLIT_RE = re.compile(r"[,，、;]")
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("「", "」"))
_SMALL_WORDS = frozenset({"and", "of", "the", "de", "del", "la", "las", "los", "y", "da", "do"})
_UNLABELLED = frozenset({"unlabelled", "unlabeled"})


class CardError(ValueError):
    """A card that cannot be used, with the line to fix: "card.md line 42: Source line has no URL".

    Attributes:
        reason: the message without the location.
        line: 1-based line number, None when the problem has no single line (a missing part).
        name: the card's name (usually its file name).
    """

    def __init__(self, reason: str, *, line: int | None = None, name: str = "<card>") -> None:
        where = name if line is None else f"{name} line {line}"
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.line = line
        self.name = name


@dataclass(frozen=True)
class WatchItemSpec:
    """One "What to watch" bullet: the question later changes are related to."""

    number: int
    """1..n in card order; the card's stable handle for the item."""
    text: str
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Optional editor-steered match terms per language code ("en", "es", "zh")."""


@dataclass(frozen=True)
class SourceSpec:
    """One cited source ("take") of the card: becomes a watched URL."""

    outlet: str
    url: str
    """As written in the card (validated http/https, no credentials)."""
    region: str | None
    language: str | None
    lens: str | None
    """The "### ..." group heading the take sits under; None for "unlabelled"."""
    take: str | None
    quote: str | None
    """The quoted line without its quote marks."""
    line: int
    """Line of the `Source:` line (YAML: of the `url:` value); not part of `card_digest`."""


@dataclass(frozen=True)
class Card:
    """A parsed event card; text fields are plain (links reduced to text, spaces collapsed)."""

    slug: str
    title: str
    lede: str | None
    type: str | None
    date: str | None
    """ISO date (YYYY-MM-DD) from the meta line."""
    meta: dict[str, str]
    """Every item of the meta line: "key: value", and "7 takes" as takes -> "7"."""
    summary: str
    watch_items: tuple[WatchItemSpec, ...]
    sources: tuple[SourceSpec, ...]
    canonical_url: str | None
    entities: tuple[str, ...]
    """Human names from "Entities:" and from entity links in the summary, deduplicated."""
    sections: dict[str, str]
    """Other "## " sections by heading, raw text (The split, Why it matters, ...)."""
    extra_entity_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """YAML only: entity name -> aliases in several languages."""


# --- shared by the Markdown and YAML parsers -------------------------------------------------


def decode_card(text: str | bytes, name: str) -> str:
    """Check size and text-ness, decode bytes as UTF-8 and normalise line ends to "\\n"."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CARD_BYTES:
        raise CardError(f"card is {size} bytes; the limit is {MAX_CARD_BYTES}", name=name)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            reason = f"not a text file (invalid UTF-8 at byte offset {exc.start})"
            raise CardError(reason, name=name) from exc
    if "\x00" in text:
        raise CardError("not a text file (contains NUL bytes)", name=name)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CardError("card is empty", name=name)
    return text


def clean_text(text: str) -> tuple[str, list[str]]:
    """Reduce links to their text and collapse spaces within paragraphs.

    Returns:
        The plain text and the names of entity links (`[Paraguay](/zh/entity/paraguay)`).
    """
    entities = [m[1].strip() for m in _LINK_RE.finditer(text) if "/entity/" in m[2]]
    plain = _LINK_RE.sub(lambda m: m[1], text)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", plain))
    return "\n\n".join(p for p in paragraphs if p), entities


def entity_name(raw: str) -> str:
    """Human entity name: "Place:taiwan Strait" -> "Taiwan Strait"."""
    words = _TYPE_PREFIX_RE.sub("", raw.strip()).split()
    if all(w.islower() for w in words):
        return " ".join(
            w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
        )
    if words and words[0].islower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def dedupe(names: list[str]) -> tuple[str, ...]:
    """Keep the first spelling of each name, ignoring case; drop empty names."""
    seen: dict[str, str] = {}
    for n in names:
        if n and n.casefold() not in seen:
            seen[n.casefold()] = n
    return tuple(seen.values())


def split_terms(text: str) -> tuple[str, ...]:
    """Split a written list of terms on commas (also Chinese ， and 、) and semicolons."""
    return tuple(t.strip() for t in _TERM_SPLIT_RE.split(text) if t.strip())


def check_url(url: str, *, line: int | None, name: str, what: str = "Source") -> str:
    """Return `url` stripped when it is a fetchable http(s) URL, else raise `CardError`."""
    url = url.strip()
    if not url:
        raise CardError(f"{what} line has no URL", line=line, name=name)
    problem = url_problem(url)
    if problem:
        raise CardError(f"{what} {problem}: {url!r}", line=line, name=name)
    if what == "Source":
        # The address guard, on the name or literal only (no DNS while parsing a card; the
        # crawl checks resolved addresses). WATCHDESK_ALLOW_PRIVATE_HOSTS lets a host through.
        refusal = AddressGuard(allowed=env_allowed_hosts(), resolve=None).url_problem(url)
        if refusal:
            raise CardError(f"{what} URL refused: {refusal}: {url!r}", line=line, name=name)
    return url


def slug_from_canonical(url: str, *, line: int | None, name: str) -> str:
    """The slug is the last path segment of the canonical URL."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        raise CardError(
            f"Canonical URL has no path to take the slug from: {url!r}", line=line, name=name
        )
    return check_slug(unquote(segments[-1]), line=line, name=name)


def check_slug(slug: str, *, line: int | None, name: str) -> str:
    """Slugs name files and URLs: letters, digits, '.', '_' and '-' only."""
    if not _SLUG_RE.match(slug):
        raise CardError(
            f"slug {slug!r} must be letters, digits, '.', '_' or '-'", line=line, name=name
        )
    return slug


def check_date(value: str, *, line: int | None, name: str) -> str:
    """A card date is an ISO calendar date (YYYY-MM-DD)."""
    try:
        ok = re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and dt.date.fromisoformat(value)
    except ValueError:
        ok = False
    if not ok:
        raise CardError(f"date {value!r} is not an ISO date (YYYY-MM-DD)", line=line, name=name)
    return value


def check_type(value: str, *, line: int | None, name: str) -> str:
    """A card type ("event") fits the store's column."""
    if len(value) > MAX_TYPE_CHARS:
        reason = f"type is {len(value)} characters long (limit {MAX_TYPE_CHARS}): {value[:40]!r}…"
        raise CardError(reason, line=line, name=name)
    return value


def make_watch_item(
    number: int, text: str, terms: dict[str, tuple[str, ...]], *, line: int, name: str
) -> WatchItemSpec:
    """Build a watch item from raw text, refusing an empty one."""
    plain, _ = clean_text(text)
    if not plain:
        raise CardError(f"watch item {number} is empty", line=line, name=name)
    return WatchItemSpec(number=number, text=plain, terms=terms)


def make_source(
    outlet: str, url: str, region: str | None, language: str | None, lens: str | None,
    take: str | None, quote: str | None, *, line: int, name: str = "<card>",
    outlet_line: int | None = None,
) -> SourceSpec:  # fmt: skip
    """Build a source with the same cleaning for Markdown and YAML cards.

    Raises:
        CardError: the outlet name or the region is longer than the store keeps (at
            `outlet_line`, the line naming the outlet, else at `line`).
    """
    lens_text = clean_text(lens or "")[0]
    outlet_text = clean_text(outlet)[0]
    region_text = (region or "").strip() or None
    for what, value, limit in (
        ("outlet name", outlet_text, MAX_OUTLET_CHARS),
        ("region", region_text, MAX_REGION_CHARS),
    ):
        if value is not None and len(value) > limit:
            reason = f"{what} is {len(value)} characters long (limit {limit}): {value[:40]!r}…"
            raise CardError(reason, line=outlet_line or line, name=name)
    return SourceSpec(
        outlet=outlet_text,
        url=url,
        region=region_text,
        language=(language or "").strip() or None,
        lens=None if lens_text.lower() in _UNLABELLED else lens_text or None,
        take=clean_text(take or "")[0] or None,
        quote=_strip_quote_marks(clean_text(quote or "")[0]) or None,
        line=line,
    )


def _strip_quote_marks(text: str) -> str:
    """Remove one pair of enclosing quote marks."""
    for left, right in _QUOTE_PAIRS:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            return text[1:-1].strip()
    return text


def check_watch_items(
    items: tuple[WatchItemSpec, ...], slug: str, *, line: int | None, name: str
) -> tuple[WatchItemSpec, ...]:
    """A card needs at least one watch item: every change is related to one."""
    if not items:
        reason = f"card {slug!r} has no watch items (a 'What to watch' list of one bullet or more)"
        raise CardError(reason, line=line, name=name)
    return items


def check_sources(sources: list[SourceSpec], *, line: int | None, name: str) -> None:
    """A card needs at least one source, and no page cited twice (compared by `url_key`)."""
    if not sources:
        raise CardError("card has no sources (no 'Source: URL' lines)", line=line, name=name)
    first_line: dict[str, int] = {}
    for src in sources:
        key = url_key(src.url)
        if key in first_line:
            reason = f"duplicate source URL {src.url!r} (same page as line {first_line[key]})"
            raise CardError(reason, line=src.line, name=name)
        first_line[key] = src.line


def card_digest(card: Card) -> str:
    """Fingerprint a card's content so storage can tell an unchanged re-add.

    Source line numbers are left out: moving a block down the file changes no content.

    Args:
        card: a parsed card.

    Returns:
        Hex sha256 of a canonical JSON of the card.
    """
    data = asdict(card)
    for source in data["sources"]:
        del source["line"]
    blob = json.dumps(
        {"v": 1, "card": data}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
