"""Reports for editors: the report data, and one renderer per format.

The data (`Report`) is built from the store by `storage.reporting.build_report`; rendering is
pure. Formats register themselves by `kind` (`__init_subclass__`), so a new format is one
class. The JSON form is a documented contract (`crawler/reports/schemas/report.schema.json`);
Markdown and HTML come from Jinja templates beside this module, HTML with autoescaping on,
so page content such as `<script>` is shown as text, never run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
SCHEMA = Path(__file__).parent / "schemas" / "report.schema.json"

#: Kinds an editor never needs to see unless asked (`--all`): nothing readable changed.
QUIET_KINDS = frozenset({"cosmetic", "dates", "rebaselined"})


@dataclass(frozen=True)
class VersionRef:
    """One side of a change: the headline and version number."""

    title: str | None
    version: int | None


@dataclass(frozen=True)
class DiffLine:
    """One paragraph of an inline diff: `op` is equal/added/removed/moved/changed."""

    op: str
    segments: tuple[tuple[str, str], ...]
    """(op, text) runs; op is equal/insert/delete."""


@dataclass(frozen=True)
class ChangeEntry:
    """A change of a cited (or discovered) article."""

    url: str
    outlet: str
    kind: str
    kinds: tuple[str, ...]
    significant: bool
    detected_at: str
    before: VersionRef | None
    after: VersionRef | None
    summary: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    watch_items: tuple[int, ...]
    evidence: dict[int, tuple[str, ...]] = field(default_factory=dict)
    diff: tuple[DiffLine, ...] = ()

    @property
    def quiet(self) -> bool:
        """Only cosmetic, date or extractor changes, or a revert of an unreported version:
        left out of md/html unless --all."""
        quiet_revert = self.kind == "reverted" and not self.significant
        return quiet_revert or set(self.kinds) <= QUIET_KINDS


@dataclass(frozen=True)
class FollowupEntry:
    """A new article on the event's outlets that bears on the event."""

    url: str
    outlet: str
    title: str | None
    published_at: str | None
    language: str | None
    score: float
    watch_items: tuple[int, ...]
    evidence: tuple[str, ...]
    also_at: tuple[str, ...] = ()
    """URLs of syndicated copies grouped with this one."""


@dataclass(frozen=True)
class ErrorEntry:
    """A cited source that could not be checked lately."""

    url: str
    outlet: str
    state: str
    since: str | None
    consecutive_failures: int
    last_error: str | None = None


@dataclass(frozen=True)
class Report:
    """What changed in an event's sources over a period."""

    slug: str
    title: str
    generated_at: str
    since: str
    watch_items: tuple[tuple[int, str], ...]
    changes: tuple[ChangeEntry, ...]
    follow_ups: tuple[FollowupEntry, ...]
    errors: tuple[ErrorEntry, ...]

    @property
    def significant_count(self) -> int:
        """Significant changes plus follow-ups: what would make a digest worth sending."""
        return sum(1 for c in self.changes if c.significant) + len(self.follow_ups)


def to_json(report: Report) -> dict[str, Any]:
    """The report in its JSON contract form (see the schema file)."""
    return {
        "event": {"slug": report.slug, "title": report.title},
        "generated_at": report.generated_at,
        "since": report.since,
        "watch_items": [{"id": i, "text": text} for i, text in report.watch_items],
        "changes": [_change_json(change) for change in report.changes],
        "follow_ups": [_followup_json(entry) for entry in report.follow_ups],
        "errors": [
            {k: v for k, v in asdict(e).items() if k != "last_error"} for e in report.errors
        ],
    }


def _change_json(change: ChangeEntry) -> dict[str, Any]:
    data = {
        key: getattr(change, key)
        for key in ("url", "outlet", "kind", "significant", "detected_at", "summary")
    }
    data["kinds"] = list(change.kinds)
    data["before"] = asdict(change.before) if change.before else None
    data["after"] = asdict(change.after) if change.after else None
    data["added"] = list(change.added)
    data["removed"] = list(change.removed)
    data["watch_items"] = list(change.watch_items)
    return data


def _followup_json(entry: FollowupEntry) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("also_at")
    data["watch_items"] = list(entry.watch_items)
    data["evidence"] = list(entry.evidence)
    return data


# --- renderers -------------------------------------------------------------------------------


class Renderer:
    """A report format; subclasses register by their `kind`."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Renderer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Renderer.registry[cls.kind] = cls

    def render(self, report: Report, *, include_all: bool = False) -> str:
        """The report as text in this format."""
        raise NotImplementedError


class JsonRenderer(Renderer):
    """JSON, per crawler/reports/schemas/report.schema.json (all changes, quiet ones included)."""

    kind = "json"

    def render(self, report: Report, *, include_all: bool = False) -> str:
        return json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n"


class _TemplateRenderer(Renderer):
    template = ""

    def render(self, report: Report, *, include_all: bool = False) -> str:
        template = _environment().get_template(self.template)
        return template.render(**view(report, include_all=include_all))


class MarkdownRenderer(_TemplateRenderer):
    """Markdown to paste into a ticket: by watch item, then edits, then unreachable sources."""

    kind = "md"
    template = "report.md.j2"


class HtmlRenderer(_TemplateRenderer):
    """One self-contained HTML file (inline CSS, no scripts) with inline word diffs."""

    kind = "html"
    template = "report.html.j2"


def render(report: Report, fmt: str, *, include_all: bool = False) -> str:
    """Render `report` as `fmt` (md, html, json).

    Raises:
        ValueError: for an unknown format, naming the supported ones.
    """
    try:
        renderer = Renderer.registry[fmt]
    except KeyError:
        known = ", ".join(sorted(Renderer.registry))
        raise ValueError(f"unknown report format {fmt!r}; supported: {known}") from None
    return renderer().render(report, include_all=include_all)


def view(report: Report, *, include_all: bool) -> dict[str, Any]:
    """What the templates see: the report regrouped the way an editor reads it."""
    changes = [c for c in report.changes if include_all or not c.quiet]
    by_item = []
    for number, text in report.watch_items:
        item_changes = [c for c in changes if number in c.watch_items]
        item_followups = [f for f in report.follow_ups if number in f.watch_items]
        by_item.append(
            {"id": number, "text": text, "changes": item_changes, "follow_ups": item_followups}
        )
    return {
        "report": report,
        "by_item": by_item,
        "related": [f for f in report.follow_ups if not f.watch_items],
        "edits": [c for c in changes if not c.watch_items],
        "hidden": len(report.changes) - len(changes),
        "include_all": include_all,
    }


_ENV: Environment | None = None


def _environment() -> Environment:
    global _ENV  # one environment per process: templates compile once
    if _ENV is None:
        _ENV = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml", "atom.j2")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        _ENV.filters["mdq"] = markdown_quote
        _ENV.filters["trim"] = trim
        _ENV.filters["safe_url"] = safe_url
    return _ENV


def trim(text: str | None, limit: int = 300) -> str:
    """One line, at most `limit` characters, cut at a word."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|<>])")


def markdown_quote(text: str | None, limit: int = 300) -> str:
    """Page text made inert for Markdown: trimmed, one line, markup characters escaped, so a
    page cannot inject links, HTML or formatting into a ticket."""
    return _MD_SPECIAL.sub(r"\\\1", trim(text, limit))


def safe_url(url: str | None) -> str:
    """The URL if it is http(s), else "#": a feed cannot smuggle `javascript:` into a link."""
    return url if url and url.startswith(("http://", "https://")) else "#"
