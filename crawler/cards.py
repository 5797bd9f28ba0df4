"""Event cards: turn the newsroom's card (Markdown, or hand-written YAML) into a `Card`.

A card is where monitoring starts: its sources become watched URLs and its "What to watch"
bullets become the watch items every later change is related to. So the parser is lenient with
whitespace and with sections it does not need (they are kept raw in `Card.sections`), and strict
with what the crawl depends on: a title, a canonical URL (the slug), sources with fetchable
http(s) URLs, non-empty watch items. Every `CardError` names the line to fix.

The Markdown layout is the one of the seed card (`tests/fixtures/cards/README.md` describes
it); the YAML layout lives in `crawler/card_yaml.py`. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import unquote, urlsplit

from crawler.urls import url_key, url_problem

logger = logging.getLogger(__name__)

#: Cards are a few kilobytes; anything near this is a wrong file, not a card.
MAX_CARD_BYTES = 1_000_000

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
    take: str | None, quote: str | None, *, line: int,
) -> SourceSpec:  # fmt: skip
    """Build a source with the same cleaning for Markdown and YAML cards."""
    lens_text = clean_text(lens or "")[0]
    return SourceSpec(
        outlet=clean_text(outlet)[0],
        url=url,
        region=(region or "").strip() or None,
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


# --- public entry points -------------------------------------------------------------------


def parse_card(text: str | bytes, *, name: str = "<card>") -> Card:
    """Parse a card, choosing Markdown or YAML by file name, else by content.

    Args:
        text: the card as text or raw bytes (UTF-8).
        name: used in error messages; a `.yaml`/`.yml`/`.md` suffix decides the format.

    Returns:
        The parsed `Card`.

    Raises:
        CardError: the card is unusable; the message names the line.
    """
    decoded = decode_card(text, name)
    if _looks_like_yaml(decoded, name):
        return parse_yaml_card(decoded, name=name)
    return parse_markdown_card(decoded, name=name)


def _looks_like_yaml(text: str, name: str) -> bool:
    """File suffix first; otherwise YAML when no Markdown sign and the first line is `key:`."""
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return True
    if lowered.endswith((".md", ".markdown")):
        return False
    if re.search(r"^(##\s|\*\*Meta|> )", text, re.MULTILINE):
        return False
    first = next((ln for ln in text.split("\n") if ln.strip() and not ln.startswith("#")), "")
    return bool(re.match(r"^(---\s*$|[A-Za-z_][\w-]*\s*:)", first))


def parse_markdown_card(text: str | bytes, *, name: str = "<card>") -> Card:
    """Parse a card in the Markdown layout of the seed card.

    Args:
        text: the Markdown text (bytes are decoded as UTF-8).
        name: used in error messages.

    Returns:
        The parsed `Card`.

    Raises:
        CardError: the card is unusable; the message names the line.
    """
    lines = list(enumerate(decode_card(text, name).split("\n"), start=1))
    return _MarkdownParser(name).parse(lines)


def parse_yaml_card(text: str | bytes, *, name: str = "<card>") -> Card:
    """Parse a hand-written YAML card (layout documented in `crawler/card_yaml.py`).

    Args:
        text: the YAML text (bytes are decoded as UTF-8).
        name: used in error messages.

    Returns:
        The parsed `Card`.

    Raises:
        CardError: the card is unusable; the message names the line.
    """
    from crawler.card_yaml import parse_yaml  # late: card_yaml imports this module

    return parse_yaml(decode_card(text, name), name)


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


# --- the Markdown layout -------------------------------------------------------------------

_Lines = list[tuple[int, str]]

_H1_RE = re.compile(r"^#(?!#)(.*)$")
_H2_RE = re.compile(r"^##(?!#)(.*)$")
_H3_RE = re.compile(r"^###(?!#)(.*)$")
_RULE_RE = re.compile(r"^\s{0,3}(?:-{3,}|\*{3,}|_{3,})\s*$")
_FOOTER_RE = re.compile(r"^([A-Za-z][\w -]*):(.*)$")
_META_RE = re.compile(r"^\*\*Meta:?\*\*:?\s*(.*)$")
_META_ITEM_RE = re.compile(r"^([^:]+):(.*)$")
_COUNT_ITEM_RE = re.compile(r"^(\d+)\s+(\w+)$")
_BULLET_RE = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])(?:\s(.*))?$")
_TERMS_RE = re.compile(r"^\s+(?:[-*+]\s+)?terms\s*\(([^)]*)\)\s*:(.*)$", re.IGNORECASE)
_TAKE_BULLET_RE = re.compile(r"^\s{0,3}[-*+]\s+\*\*(.+?)\*\*\s*(.*)$")
_TAKE_REST_RE = re.compile(r"^(?:\(([^)]*)\))?\s*(?:(?:—|–|--?|:)\s*(.*))?$")
_SOURCE_LINE_RE = re.compile(r"^source\s*:\s*(.*)$", re.IGNORECASE)
_ENTITIES_RE = re.compile(r"^\s*(?:[-*+]\s+)?entities\s*:\s*(.*)$", re.IGNORECASE)
_SECTION_KINDS = {"summary": "summary", "what to watch": "watch", "across the graph": "graph"}
_TAKES_HEADINGS = ("regional takes", "sources", "takes")


@dataclass
class _Section:
    """A "## " section: heading, its line and its body lines."""

    heading: str
    line: int
    body: _Lines


@dataclass
class _TakeDraft:
    """A take bullet being read: its Source line may come a few lines later."""

    line: int
    outlet: str
    paren: str
    lens: str | None
    take: list[str]
    quote: list[str] = field(default_factory=list)
    url: str | None = None
    url_line: int = 0


def _section_kind(heading: str) -> str:
    """summary / watch / takes / graph, or "other" for sections kept raw."""
    lowered = heading.lower()
    if lowered.startswith(_TAKES_HEADINGS):
        return "takes"
    return _SECTION_KINDS.get(lowered, "other")


def _raw(body: _Lines) -> str:
    """A section's text as written, without surrounding blank lines."""
    return "\n".join(text.rstrip() for _, text in body).strip()


def _split_footer(lines: _Lines) -> tuple[_Lines, _Lines]:
    """Split off the `key: value` lines after the last `---` rule (the Canonical line)."""
    for i in range(len(lines) - 1, -1, -1):
        if _RULE_RE.match(lines[i][1]):
            tail = lines[i + 1 :]
            if all(not t.strip() or _FOOTER_RE.match(t) for _, t in tail):
                return lines[:i], tail
            break
    return lines, []


def _heading_text(raw: str) -> str:
    """Heading text without surrounding spaces or a closing run of `#` ("## Summary ##")."""
    text = raw.strip()
    body, space, tail = text.rpartition(" ")
    return body.rstrip() if space and tail and not tail.strip("#") else text


def _region_language(paren: str) -> tuple[str | None, str | None]:
    """Split "Asia, en" into ("Asia", "en"); the last part counts only if it is a language."""
    parts = [p.strip() for p in paren.split(",") if p.strip()]
    if parts and LANGUAGE_RE.match(parts[-1]):
        return ", ".join(parts[:-1]) or None, parts[-1]
    return ", ".join(parts) or None, None


class _MarkdownParser:
    """One parse of one Markdown card; keeps the card name for error messages."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, reason: str, line: int | None = None) -> CardError:
        """A `CardError` for this card."""
        return CardError(reason, line=line, name=self.name)

    def parse(self, lines: _Lines) -> Card:
        """Read header, sections and footer, in that order, into a `Card`."""
        body, footer = _split_footer(lines)
        header, sections = self.split_sections(body)
        title, lede, meta = self.header(header, sections[0].line if sections else None)
        known, other = self.classify(sections)
        summary, entities = clean_text(_raw(known["summary"].body) if "summary" in known else "")
        graph = known.get("graph")
        if graph:
            entities = self.graph(graph, other) + entities
        takes = known.get("takes")
        sources = self.takes(takes) if takes else []
        check_sources(sources, line=takes.line if takes else None, name=self.name)
        canonical, canonical_line = self.canonical(footer)
        return Card(
            slug=slug_from_canonical(canonical, line=canonical_line, name=self.name),
            title=title,
            lede=lede,
            type=meta.get("type") or None,
            date=meta.get("date") or None,
            meta=meta,
            summary=summary,
            watch_items=self.watch(known["watch"]) if "watch" in known else (),
            sources=tuple(sources),
            canonical_url=canonical,
            entities=dedupe(entities),
            sections=other,
        )

    def split_sections(self, body: _Lines) -> tuple[_Lines, list[_Section]]:
        """Lines before the first "## " heading, and the sections."""
        header: _Lines = []
        sections: list[_Section] = []
        for no, text in body:
            match = _H2_RE.match(text)
            heading = _heading_text(match[1]) if match else ""
            if match and not heading:
                raise self.error("empty '## ' heading", no)
            if match:
                sections.append(_Section(heading, no, []))
            else:
                (sections[-1].body if sections else header).append((no, text))
        return header, sections

    def header(
        self, header: _Lines, first_section: int | None
    ) -> tuple[str, str | None, dict[str, str]]:
        """Title, lede and meta line."""
        title: str | None = None
        lede: list[str] = []
        meta: dict[str, str] | None = None
        for no, text in header:
            stripped = text.strip()
            meta_line = _META_RE.match(stripped)
            if not stripped:
                continue
            if title is None:
                title = self.title(text, no)
            elif stripped.startswith(">"):
                lede.append(stripped[1:])
            elif meta_line and meta is None:
                meta = self.meta(meta_line[1], no)
            else:
                raise self.error("unexpected text before the first '## ' section", no)
        if title is None:
            raise self.error("card has no title (it must start with '# Title')", first_section)
        return title, clean_text("\n".join(lede))[0] or None, meta or {}

    def title(self, text: str, line: int) -> str:
        """The `# Title` line, which must come first."""
        match = _H1_RE.match(text)
        title = clean_text(match[1])[0] if match else ""
        if not title:
            raise self.error("card has no title (it must start with '# Title')", line)
        return title

    def meta(self, text: str, line: int) -> dict[str, str]:
        """`type: event · date: 2026-05-08 · 7 takes` -> {type, date, takes}."""
        meta: dict[str, str] = {}
        for item in filter(None, (i.strip() for i in text.split("·"))):
            if count := _COUNT_ITEM_RE.match(item):
                key, value = count[2], count[1]
            elif pair := _META_ITEM_RE.match(item):
                key, value = pair[1], pair[2]
            else:
                key, value = item, ""
            key = key.strip().lower()
            if key in meta:
                raise self.error(f"meta item {key!r} appears twice", line)
            meta[key] = value.strip()
        if "date" in meta:
            check_date(meta["date"], line=line, name=self.name)
        return meta

    def classify(self, sections: list[_Section]) -> tuple[dict[str, _Section], dict[str, str]]:
        """Known sections by kind; the others as raw text by heading."""
        known: dict[str, _Section] = {}
        other: dict[str, str] = {}
        for sec in sections:
            kind = _section_kind(sec.heading)
            if kind in known or sec.heading in other:
                raise self.error(f"section '## {sec.heading}' appears twice", sec.line)
            if kind == "other":
                other[sec.heading] = _raw(sec.body)
            else:
                known[kind] = sec
        return known, other

    def watch(self, sec: _Section) -> tuple[WatchItemSpec, ...]:
        """Bullets of "What to watch"; indented lines continue a bullet or add `Terms (xx):`."""
        drafts: list[tuple[int, list[str], dict[str, tuple[str, ...]]]] = []
        for no, text in sec.body:
            if not text.strip():
                continue
            terms = _TERMS_RE.match(text) if drafts else None
            bullet = _BULLET_RE.match(text)
            if terms:
                drafts[-1][2][self.language(terms[1].strip(), no)] = self.terms(terms[2], no)
            elif bullet:
                drafts.append((no, [(bullet[1] or "").strip()], {}))
            elif drafts and text[:1].isspace():
                drafts[-1][1].append(text.strip())
            else:
                raise self.error("expected a '- ' bullet in 'What to watch'", no)
        return tuple(
            make_watch_item(i, " ".join(parts), terms, line=no, name=self.name)
            for i, (no, parts, terms) in enumerate(drafts, start=1)
        )

    def language(self, code: str, line: int) -> str:
        """A language code such as en, es, zh, zh-tw."""
        if not LANGUAGE_RE.match(code.lower()):
            raise self.error(f"{code!r} is not a language code (like 'en', 'es', 'zh')", line)
        return code.lower()

    def terms(self, text: str, line: int) -> tuple[str, ...]:
        """The comma-separated terms of a `Terms (xx):` line."""
        terms = split_terms(text)
        if not terms:
            raise self.error("Terms line lists no terms", line)
        return terms

    def takes(self, sec: _Section) -> list[SourceSpec]:
        """Takes: `- **Outlet** (Region, lang) — take` bullets with a Source, under `### lens`."""
        sources: list[SourceSpec] = []
        lens: str | None = None
        draft: _TakeDraft | None = None
        for no, text in sec.body:
            stripped = text.strip()
            heading = _H3_RE.match(stripped)
            if not stripped:
                continue
            if heading or re.match(r"^\s{0,3}[-*+]\s", text):
                self.close_take(draft, sources)
                lens = _heading_text(heading[1]) if heading else lens
                draft = None if heading else self.new_take(text, no, lens)
            elif draft is None:
                raise self.error("expected '- **Outlet** (Region, lang) — take'", no)
            else:
                self.take_line(draft, stripped, no)
        self.close_take(draft, sources)
        return sources

    def new_take(self, text: str, line: int, lens: str | None) -> _TakeDraft:
        """Start a take from its bullet line."""
        bullet = _TAKE_BULLET_RE.match(text)
        if not bullet:
            raise self.error("expected '- **Outlet** (Region, lang) — take'", line)
        rest = _TAKE_REST_RE.match(bullet[2].strip())
        if not rest:
            raise self.error("expected ' — ' between '(Region, lang)' and the take", line)
        return _TakeDraft(line, bullet[1], rest[1] or "", lens, [rest[2] or ""])

    def take_line(self, draft: _TakeDraft, stripped: str, line: int) -> None:
        """A line under a take bullet: `> quote`, `Source: URL` or more take text."""
        source = _SOURCE_LINE_RE.match(stripped)
        if stripped.startswith(">"):
            draft.quote.append(stripped[1:])
        elif source and draft.url is not None:
            raise self.error(
                f"second Source line for one take (first on line {draft.url_line})", line
            )
        elif source:
            draft.url, draft.url_line = check_url(source[1], line=line, name=self.name), line
        else:
            draft.take.append(stripped)

    def close_take(self, draft: _TakeDraft | None, sources: list[SourceSpec]) -> None:
        """Finish a take: it must have had a Source line."""
        if draft is None:
            return
        if draft.url is None:
            raise self.error(f"take by {draft.outlet!r} has no 'Source: URL' line", draft.line)
        region, language = _region_language(draft.paren)
        take, quote = " ".join(draft.take), " ".join(draft.quote)
        sources.append(
            make_source(
                draft.outlet,
                draft.url,
                region,
                language,
                draft.lens,
                take,
                quote,
                line=draft.url_line,
            )
        )

    def graph(self, sec: _Section, other: dict[str, str]) -> list[str]:
        """Names of the `Entities:` line; any other lines are kept raw in `sections`."""
        names: list[str] = []
        rest: _Lines = []
        for no, text in sec.body:
            entities = _ENTITIES_RE.match(text)
            if entities:
                names.extend(entity_name(n) for n in split_terms(entities[1]))
            else:
                rest.append((no, text))
        if _raw(rest):
            other[sec.heading] = _raw(rest)
        return names

    def canonical(self, footer: _Lines) -> tuple[str, int]:
        """The `Canonical: URL` line after the final `---`; other footer keys are ignored."""
        found: tuple[str, int] | None = None
        for no, text in footer:
            pair = _FOOTER_RE.match(text)
            if not pair:
                continue
            if pair[1].strip().lower() != "canonical":
                logger.debug("%s line %d: ignoring footer key %r", self.name, no, pair[1])
            elif found:
                raise self.error(f"second Canonical line (first on line {found[1]})", no)
            else:
                found = (check_url(pair[2], line=no, name=self.name, what="Canonical"), no)
        if found is None:
            raise self.error("card has no 'Canonical: URL' line (expected after a final '---')")
        return found
