"""Markdown event cards: the layout the news graph writes (`tests/fixtures/cards/README.md`).

Lenient with whitespace and with sections the crawl does not need (kept raw in
`Card.sections`), strict with what it depends on; every `CardError` names the line to fix.
Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from crawler.cards.model import (
    LANGUAGE_RE,
    Card,
    CardError,
    SourceSpec,
    WatchItemSpec,
    check_date,
    check_sources,
    check_type,
    check_url,
    check_watch_items,
    clean_text,
    decode_card,
    dedupe,
    entity_name,
    make_source,
    make_watch_item,
    slug_from_canonical,
    split_terms,
)

logger = logging.getLogger(__name__)


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
        slug = slug_from_canonical(canonical, line=canonical_line, name=self.name)
        return Card(
            slug=slug,
            title=title,
            lede=lede,
            type=meta.get("type") or None,
            date=meta.get("date") or None,
            meta=meta,
            summary=summary,
            watch_items=check_watch_items(
                self.watch(known["watch"]) if "watch" in known else (),
                slug,
                line=known["watch"].line if "watch" in known else None,
                name=self.name,
            ),
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
        if "type" in meta:
            check_type(meta["type"], line=line, name=self.name)
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
                name=self.name,
                outlet_line=draft.line,
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
