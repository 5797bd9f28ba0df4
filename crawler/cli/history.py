"""`watchdesk history URL`: the versions and fetch outcomes of one page."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from crawler.cli.common import Context, pass_context
from storage.repositories import changes_of, fetches_of, page_by_url, versions_of


@click.command()
@click.argument("url")
@click.option("--limit", default=30, show_default=True, help="Fetches to show.")
@pass_context
def history(ctx: Context, url: str, limit: int) -> None:
    """List the versions, changes and recent fetches of the page at URL."""
    with ctx.sessions() as session:
        page = page_by_url(session, url)
        if page is None:
            raise click.ClickException(f"{url} is not watched; add an event card that cites it")
        # Page text is data, never console markup: every value from a page is a Text.
        ctx.console.print(
            Text.assemble(
                (page.url, "bold"), f"  state={page.state} failures={page.consecutive_failures}"
            )
        )
        versions = Table(
            "v", "seen", "headline", "paragraphs", "published", "modified", title="versions"
        )
        for version in versions_of(session, page.id):
            versions.add_row(
                str(version.number),
                f"{version.seen_at:%Y-%m-%d %H:%M:%S}",
                Text(version.title or ""),
                str(len(version.paragraphs)),
                Text(version.published or ""),
                Text(version.modified or ""),
            )
        ctx.console.print(versions)
        changes = Table("detected", "kinds", "summary", title="changes")
        for change in changes_of(session, page.id):
            changes.add_row(
                f"{change.detected_at:%Y-%m-%d %H:%M:%S}",
                Text(", ".join(change.kinds)),
                Text(change.summary),
            )
        ctx.console.print(changes)
        fetches = Table("time", "status", "outcome", "ms", "bytes", "error", title="fetches")
        for fetch in fetches_of(session, page.id, limit):
            fetches.add_row(
                f"{fetch.started_at:%Y-%m-%d %H:%M:%S}",
                str(fetch.status or "-"),
                fetch.outcome,
                f"{fetch.duration_ms or 0:.0f}",
                str(fetch.bytes or ""),
                Text(fetch.error or ""),
            )
        ctx.console.print(fetches)
