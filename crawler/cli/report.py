"""`watchdesk report` and `watchdesk diff`: what changed, for editors and in the terminal."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from crawler.changes.diffing import diff_versions
from crawler.cli.common import Context, parse_since, pass_context
from crawler.reports import atom  # noqa: F401 - registers the "atom" report format
from crawler.reports.render import Renderer, render
from storage.reporting import UnknownEvent, build_report
from storage.repositories import article_of, page_by_url, utcnow, versions_of


@click.command()
@click.option("--event", "slug", required=True, metavar="SLUG", help="The event to report on.")
@click.option(
    "--since",
    default="24h",
    show_default=True,
    help="Start of the period: a duration (24h, 7d) or an ISO 8601 time.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(Renderer.registry)),
    default="md",
    show_default=True,
    help="Output format (JSON follows crawler/reports/schemas/).",
)
@click.option(
    "--all", "include_all", is_flag=True, help="Include cosmetic and date-only changes in md/html."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@pass_context
def report(
    ctx: Context, slug: str, since: str, fmt: str, include_all: bool, output: Path | None
) -> None:
    """Report what changed in an event's sources and which watch item to update.

    Example: watchdesk report --event paraguay-pena-taiwan-2026 --since 7d --format html -o r.html
    """
    now = utcnow()
    with ctx.sessions() as session:
        try:
            data = build_report(session, slug, parse_since(since, now), now)
        except UnknownEvent as exc:
            raise click.ClickException(str(exc)) from exc
    text = render(data, fmt, include_all=include_all)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("url")
@click.option(
    "--from", "from_v", type=int, help="Older version number (default: the one before --to)."
)
@click.option("--to", "to_v", type=int, help="Newer version number (default: the latest).")
@pass_context
def diff(ctx: Context, url: str, from_v: int | None, to_v: int | None) -> None:
    """Show a coloured word diff between two versions of the page at URL."""
    with ctx.sessions() as session:
        page = page_by_url(session, url)
        versions = {v.number: v for v in versions_of(session, page.id)} if page else {}
    if len(versions) < 2 and not (from_v and to_v):
        raise click.ClickException(f"{url}: fewer than two stored versions; nothing to diff")
    to_v = to_v or max(versions)
    from_v = from_v or max((n for n in versions if n < to_v), default=0)
    if from_v not in versions or to_v not in versions:
        raise click.ClickException(f"versions available: {sorted(versions)}")
    old, new = article_of(versions[from_v]), article_of(versions[to_v])
    ctx.console.print(Text.assemble((url, "bold"), f"  v{from_v} → v{to_v}"))
    result = diff_versions(old, new)
    for name, (before, after) in result.headlines.items():
        ctx.console.print(
            Text.assemble(f"{name}: ", (before or "", "red strike"), " → ", (after or "", "green"))
        )
    for change in result.paragraphs:
        if change.op == "equal":
            continue
        line = Text(f"[{change.op}] ", style="dim")
        if change.op == "changed":
            for segment in change.segments:
                style = {"insert": "green", "delete": "red strike"}.get(segment.op, "")
                line.append(segment.text, style=style)
        elif change.op == "added":
            line.append(change.new or "", style="green")
        elif change.op == "removed":
            line.append(change.old or "", style="red strike")
        else:
            line.append(change.new or "", style="italic")
        ctx.console.print(line)
