"""`watchdesk demo`: the whole job on the bundled event and replay web, offline."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.common import Context, pass_context
from crawler.demo.run import SLUG, run_demo


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("watchdesk-demo"),
    show_default=True,
    help="Folder for the demo's database and reports.",
)
@click.option(
    "--no-terms",
    is_flag=True,
    help="Leave out the seed event's editor terms: link with the term-free matcher.",
)
@pass_context
def demo(ctx: Context, out: Path, no_terms: bool) -> None:
    """Replay the seed event's sources in two states, crawl them, report what changed.

    Uses a fresh SQLite file in OUT unless --db is given; sends no traffic off this machine.
    """
    if ctx.db_url is None:
        for stale in out.glob("demo.db*"):
            stale.unlink()
    result = run_demo(ctx.console, out, ctx.db_url, terms=not no_terms)
    ctx.console.rule("the Markdown report (also in report.md, report.html, report.json)")
    click.echo(result.reports["md"].read_text(encoding="utf-8"))
    ctx.console.rule()
    for fmt, path in result.reports.items():
        ctx.console.print(f"{fmt:>4}: {path}")
    ctx.console.print(
        f"demo finished in {result.seconds:.1f} s; explore it with "
        f"`watchdesk --db {result.db_url} history URL` or `… report --event {SLUG} --all`"
    )
