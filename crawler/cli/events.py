"""`watchdesk event add|list|show`: event cards in.

`event list` reads the Core tables (`storage.overview`); the card model, the ORM and the
repositories are imported by the commands that use them, so that it stays quick.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from crawler.cli.common import Context, pass_context
from storage.overview import events_with_counts

if TYPE_CHECKING:
    from storage.models import Page
    from storage.repositories import EventDelta


@click.group()
def event() -> None:
    """Register and inspect event cards."""


@event.command("add")
@click.argument("path", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option(
    "--terms",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of editor-steered match terms for this event's watch items.",
)
@pass_context
def event_add(ctx: Context, path: str, terms: Path | None) -> None:
    """Store or update the event card at PATH (`-` reads stdin); prints the slug last.

    Re-adding a changed card adds and retires sources and watch items and says what
    changed; re-adding the same card changes nothing.

    Example: watchdesk event add examples/event-card.md
    """
    # The parsers (PyYAML) and the matcher (jieba) only when a card is added.
    from crawler.cards.model import CardError, card_digest
    from crawler.cards.parse import parse_card
    from crawler.matching.terms import load_overrides
    from storage.repositories import get_event, upsert_event

    name = "<stdin>" if path == "-" else path
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        card = parse_card(raw, name=name)
        overrides = load_overrides(terms.read_text(encoding="utf-8")) if terms else None
    except (CardError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    text = raw.decode("utf-8")
    with ctx.sessions.begin() as session:
        delta = upsert_event(session, card, card_digest(card), text)
        if overrides is not None:
            stored = get_event(session, card.slug)
            assert stored is not None
            if stored.match_overrides != overrides:
                stored.match_overrides = overrides
                delta.unchanged = False
    for line in describe_delta(delta):
        click.echo(line)
    click.echo(card.slug)


def describe_delta(delta: EventDelta) -> list[str]:
    """Human lines for what `upsert_event` did."""
    if delta.created:
        return [
            f"added event {delta.slug}: {len(delta.sources_added)} sources, "
            f"{len(delta.items_added)} watch items"
        ]
    if delta.unchanged:
        return [f"event {delta.slug} unchanged"]
    lines = [f"updated event {delta.slug}"]
    for label, values in (
        ("source added", delta.sources_added),
        ("source retired", delta.sources_retired),
        ("source updated", delta.sources_updated),
        ("watch item added", delta.items_added),
        ("watch item retired", delta.items_retired),
        ("watch item reworded", delta.items_changed),
    ):
        lines.extend(f"  {label}: {value}" for value in values)
    return lines


@event.command("list")
@pass_context
def event_list(ctx: Context) -> None:
    """List stored events with their source counts."""
    table = Table("slug", "date", "sources", "title")
    with ctx.engine.connect() as connection:
        rows = events_with_counts(connection)
    for row in rows:
        # Card text is data, never console markup: `[/bold]` in a title prints as written.
        table.add_row(Text(row.slug), Text(row.date or ""), str(row.sources), Text(row.title))
    ctx.console.print(table)


@event.command("show")
@click.argument("slug")
@pass_context
def event_show(ctx: Context, slug: str) -> None:
    """Show an event: watch items and cited sources with their state."""
    from storage.repositories import get_event

    with ctx.sessions() as session:
        stored = get_event(session, slug)
        if stored is None:
            raise click.ClickException(f"no event {slug!r}; see `watchdesk event list`")
        ctx.console.print(
            Text.assemble((stored.title, "bold"), f"  ({stored.slug}, {stored.date})")
        )
        for item in stored.watch_items:
            line = Text.assemble(f"  watch {item.number}: ", item.text)
            if not item.active:
                line.append(" (retired)", style="dim")
            ctx.console.print(line)
        table = Table("outlet", "lang", "state", "last check", "url")
        for source in stored.sources:
            if not source.active:
                continue
            page: Page = source.page
            checked = (
                page.last_checked_at.strftime("%Y-%m-%d %H:%M") if page.last_checked_at else "never"
            )
            table.add_row(
                Text(source.outlet_name),
                Text(source.language or ""),
                page.state,
                checked,
                Text(page.url),
            )
        ctx.console.print(table)
