"""Hand-written event cards in YAML: the Markdown card's content, for events no tool wrote.

Layout (every key but `title`, `sources` and one of `slug` / `canonical` is optional; an
unknown key is an error, so a typo never silently drops data)::

    slug: paraguay-pena-taiwan-2026       # or canonical: URL (the slug is its last segment)
    canonical: https://rbtfl.xyz/zh/n/paraguay-pena-taiwan-2026
    title: Paraguay President Peña signs ...
    lede: Paraguay President Santiago Peña met ...
    type: event
    date: 2026-05-08                      # ISO date
    meta: {heads: "长远之局, 谁的钱", takes: "7"}   # the rest of the Markdown meta line
    summary: |
      [Paraguay](/zh/entity/paraguay) President ...   # entity links add to `entities`
    entities: [Paraguay, Taiwan Strait]   # "Place:taiwan Strait" is cleaned as in Markdown
    entity_terms: {Paraguay: [Paraguay, 巴拉圭]}      # only for names listed in entities
    watch:
      - text: Whether Phase 1 ...
        terms: {en: [data centre, data center], es: [centro de datos], zh: [資料中心]}
      - Whether Taiwan's poultry market ...           # a plain string is fine too
    sources:
      - outlet: Taiwan Presidential Office            # outlet and url are required
        url: https://english.president.gov.tw/News/7133
        region: Asia
        language: en
        lens: Authoritative record ...                # "unlabelled" or absent -> no lens
        take: Official record ...
        quote: President Lai and President Peña ...
    sections: {"Why it matters": "raw text"}        # other "## " sections, kept raw

Errors name the line of the offending YAML node (the composer keeps marks). Aliases are
refused: a card has no use for them and they allow exponential "billion laughs" input.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from crawler.cards.model import (
    LANGUAGE_RE,
    Card,
    CardError,
    SourceSpec,
    WatchItemSpec,
    check_date,
    check_slug,
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
)

_TOP_KEYS = (
    "slug", "canonical", "title", "lede", "type", "date", "meta", "summary", "entities",
    "entity_terms", "watch", "sources", "sections",
)  # fmt: skip
_SOURCE_KEYS = ("outlet", "url", "region", "language", "lens", "take", "quote")
_WATCH_KEYS = ("text", "terms")
_NULL_TAG = "tag:yaml.org,2002:null"
#: libyaml when PyYAML was built with it (about 10x faster on a 1 MB card); both keep line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_Fields = dict[str, Node]


def _line(node: Node) -> int:
    """1-based line where a node starts."""
    return int(node.start_mark.line) + 1


class _YamlParser:
    """One parse of one YAML card; keeps the card name for error messages."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, reason: str, node: Node | None) -> CardError:
        """A `CardError` at the node's line."""
        return CardError(reason, line=_line(node) if node else None, name=self.name)

    def compose(self, text: str) -> MappingNode:
        """YAML text -> node tree with line marks; syntax errors keep their line."""
        try:
            self.refuse_aliases(text)
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise CardError(f"YAML error: {exc.problem or exc}", line=line, name=self.name) from exc
        except yaml.YAMLError as exc:
            raise CardError(f"YAML error: {exc}", name=self.name) from exc
        if not isinstance(root, MappingNode):
            raise self.error("a YAML card must be a mapping of keys (slug, title, ...)", root)
        return root

    def refuse_aliases(self, text: str) -> None:
        """Scan the event stream first: an alias event carries the line where it is used."""
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1
                raise CardError(
                    "YAML aliases (*name) are not supported in cards", line=line, name=self.name
                )

    def mapping(self, node: Node, allowed: tuple[str, ...], what: str) -> _Fields:
        """Key -> value node of a mapping; unknown or repeated keys are errors."""
        if not isinstance(node, MappingNode):
            raise self.error(f"{what} must be a mapping", node)
        fields: _Fields = {}
        for key_node, value in node.value:
            key = self.text(key_node, f"a key in {what}", required=True)
            if key in fields:
                raise self.error(f"key {key!r} appears twice in {what}", key_node)
            if allowed and key not in allowed:
                known = ", ".join(allowed)
                raise self.error(f"unknown key {key!r} in {what} (known: {known})", key_node)
            fields[key] = value
        return fields

    def text(self, node: Node | None, what: str, *, required: bool = False) -> str | None:
        """A scalar as text (dates and numbers too, as written); null -> None."""
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
            value = None
        elif isinstance(node, ScalarNode):
            value = str(node.value).strip() or None
        else:
            raise self.error(f"{what} must be text", node)
        if required and value is None:
            raise self.error(f"{what} is missing or empty", node)
        return value

    def texts(self, node: Node | None, what: str) -> tuple[str, ...]:
        """A list of texts (one text alone is a list of one); empty entries are errors."""
        if node is None:
            return ()
        items = node.value if isinstance(node, SequenceNode) else [node]
        return tuple(self.text(item, f"an entry of {what}", required=True) or "" for item in items)

    def parse(self, text: str) -> Card:
        """Read every key of the card; cross-checks as in the Markdown parser."""
        root = self.compose(text)
        fields = self.mapping(root, _TOP_KEYS, "the card")
        title = self.text(fields.get("title"), "title")
        if title is None:
            raise self.error("card has no title", fields.get("title", root))
        summary, linked = clean_text(self.text(fields.get("summary"), "summary") or "")
        entities = dedupe(
            [entity_name(n) for n in self.texts(fields.get("entities"), "entities")] + linked
        )
        slug, canonical = self.identity(fields, root)
        meta = self.meta(fields)
        watch_items = self.watch(fields.get("watch"))
        sources = self.sources(fields.get("sources"), root)
        return Card(
            slug=slug,
            title=clean_text(title)[0],
            lede=clean_text(self.text(fields.get("lede"), "lede") or "")[0] or None,
            type=meta.get("type"),
            date=meta.get("date"),
            meta=meta,
            summary=summary,
            watch_items=check_watch_items(
                watch_items,
                slug,
                line=_line(fields["watch"]) if "watch" in fields else None,
                name=self.name,
            ),
            sources=sources,
            canonical_url=canonical,
            entities=entities,
            sections=self.sections(fields.get("sections")),
            extra_entity_terms=self.entity_terms(fields.get("entity_terms"), entities),
        )

    def identity(self, fields: _Fields, root: Node) -> tuple[str, str | None]:
        """Slug and canonical URL; given both, they must agree."""
        slug_node, canonical_node = fields.get("slug"), fields.get("canonical")
        slug = self.text(slug_node, "slug")
        canonical = self.text(canonical_node, "canonical")
        if canonical is not None and canonical_node is not None:
            line = _line(canonical_node)
            canonical = check_url(canonical, line=line, name=self.name, what="Canonical")
            derived = slug_from_canonical(canonical, line=line, name=self.name)
            if slug is not None and slug != derived:
                reason = f"slug {slug!r} differs from the canonical URL's last segment {derived!r}"
                raise self.error(reason, slug_node)
            return derived, canonical
        if slug is None or slug_node is None:
            raise self.error("card has neither 'slug' nor 'canonical'", root)
        return check_slug(slug, line=_line(slug_node), name=self.name), None

    def meta(self, fields: _Fields) -> dict[str, str]:
        """`type` and `date` plus the free `meta` mapping, as the Markdown meta line gives them."""
        meta: dict[str, str] = {}
        meta_node = fields.get("meta")
        if meta_node is not None:
            for key, value in self.mapping(meta_node, (), "meta").items():
                meta[key.lower()] = self.text(value, f"meta {key!r}") or ""
        for key in ("type", "date"):
            node = fields.get(key)
            value = self.text(node, key)
            if value is not None and node is not None:
                if key in meta:
                    raise self.error(f"{key!r} is given both at the top and in meta", node)
                meta[key] = value
        if "date" in meta:
            node = fields.get("date") or meta_node
            check_date(meta["date"], line=_line(node) if node else None, name=self.name)
        if "type" in meta:
            node = fields.get("type") or meta_node
            check_type(meta["type"], line=_line(node) if node else None, name=self.name)
        return meta

    def watch(self, node: Node | None) -> tuple[WatchItemSpec, ...]:
        """`watch:` entries: a text, or a mapping of text and terms."""
        if node is None:
            return ()
        if not isinstance(node, SequenceNode):
            raise self.error("watch must be a list", node)
        return tuple(self.watch_item(i, item) for i, item in enumerate(node.value, start=1))

    def watch_item(self, number: int, node: Node) -> WatchItemSpec:
        """One watch item; its terms are a mapping of language code -> list of terms."""
        what = f"watch item {number}"
        fields = self.mapping(node, _WATCH_KEYS, what) if isinstance(node, MappingNode) else {}
        text_node = fields.get("text") if isinstance(node, MappingNode) else node
        text = self.text(text_node, f"{what} text") or ""
        terms: dict[str, tuple[str, ...]] = {}
        terms_node = fields.get("terms")
        if terms_node is not None:
            for code, value in self.mapping(terms_node, (), f"{what} terms").items():
                if not LANGUAGE_RE.match(code):
                    raise self.error(f"{code!r} is not a language code (like 'en')", terms_node)
                terms[code] = self.texts(value, f"{what} terms")
        return make_watch_item(number, text, terms, line=_line(node), name=self.name)

    def sources(self, node: Node | None, root: Node) -> tuple[SourceSpec, ...]:
        """`sources:` list; at least one, no page twice."""
        if node is not None and not isinstance(node, SequenceNode):
            raise self.error("sources must be a list", node)
        sources = [self.source(item) for item in (node.value if node is not None else [])]
        check_sources(sources, line=_line(node if node is not None else root), name=self.name)
        return tuple(sources)

    def source(self, node: Node) -> SourceSpec:
        """One source mapping; `outlet` and `url` are required."""
        fields = self.mapping(node, _SOURCE_KEYS, "a source")
        outlet = self.text(fields.get("outlet"), "source outlet")
        url_node = fields.get("url")
        url = self.text(url_node, "source url")
        if outlet is None:
            raise self.error("source has no outlet", fields.get("outlet", node))
        if url is None or url_node is None:
            raise self.error("source has no url", url_node or node)
        language = self.text(fields.get("language"), "language")
        if language is not None and not LANGUAGE_RE.match(language):
            raise self.error(f"{language!r} is not a language code (like 'en')", fields["language"])
        values = {k: self.text(fields.get(k), k) for k in ("region", "lens", "take", "quote")}
        url = check_url(url, line=_line(url_node), name=self.name)
        return make_source(
            outlet,
            url,
            language=language,
            line=_line(url_node),
            name=self.name,
            outlet_line=_line(fields["outlet"]),
            **values,
        )

    def sections(self, node: Node | None) -> dict[str, str]:
        """Other sections by heading, raw text."""
        if node is None:
            return {}
        fields = self.mapping(node, (), "sections")
        return {k: (self.text(v, f"section {k!r}") or "") for k, v in fields.items()}

    def entity_terms(
        self, node: Node | None, entities: tuple[str, ...]
    ) -> dict[str, tuple[str, ...]]:
        """Aliases per entity; each named entity must be listed in `entities`."""
        if node is None:
            return {}
        listed = {e.casefold(): e for e in entities}
        result: dict[str, tuple[str, ...]] = {}
        for raw, value in self.mapping(node, (), "entity_terms").items():
            name = listed.get(entity_name(raw).casefold())
            if name is None:
                raise self.error(f"entity_terms names {raw!r}, which is not in entities", value)
            result[name] = self.texts(value, f"entity_terms of {raw!r}")
        return result


def parse_yaml_card(text: str | bytes, *, name: str = "<card>") -> Card:
    """Parse a hand-written YAML card (layout documented in this module).

    Args:
        text: the YAML text (bytes are decoded as UTF-8).
        name: used in error messages.

    Returns:
        The parsed `Card`.

    Raises:
        CardError: the card is unusable; the message names the line.
    """
    return _YamlParser(name).parse(decode_card(text, name))
