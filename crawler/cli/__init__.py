"""The `watchdesk` command: thin click commands over the library.

Global options come before the subcommand (`watchdesk --db URL crawl …`); every command
frames its own transaction. Printing happens only in this package. Subcommands are imported
when used (click's lazy-group pattern), so `watchdesk crawl` does not pay for the daemon's,
the report renderer's or the demo's imports.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import click

from crawler.cli.common import Context
from crawler.interrupt import Interrupted

#: Command name -> "module:attribute" of its click command, in the order `--help` lists them.
COMMANDS = {
    "event": "crawler.cli.events:event",
    "crawl": "crawler.cli.crawl:crawl",
    "discover": "crawler.cli.discover:discover",
    "report": "crawler.cli.report:report",
    "history": "crawler.cli.history:history",
    "diff": "crawler.cli.report:diff",
    "worker": "crawler.cli.worker:worker",
    "daemon": "crawler.cli.daemon:daemon",
    "status": "crawler.cli.status:status",
    "match": "crawler.cli.match:match",
    "demo": "crawler.cli.demo:demo",
}

#: Command name -> its one-line help, so that `watchdesk --help` lists the commands without
#: importing them (SQLAlchemy, Scrapy, Alembic). A command missing here is imported to ask;
#: tests/test_cli.py checks that each line matches its command's docstring.
SUMMARIES = {
    "event": "Register and inspect event cards.",
    "crawl": "Recheck the watched pages of an event, some URLs, or an outlet.",
    "discover": "Find new articles on the outlets an event cites and store those that follow "
    "it up.",
    "report": "Report what changed in an event's sources and which watch item to update.",
    "history": "List the versions, changes and recent fetches of the page at URL.",
    "diff": "Show a coloured word diff between two versions of the page at URL.",
    "worker": "Check due pages in batches and discover due outlets until stopped; run any number.",
    "daemon": "Recheck due pages, discover follow-ups and send digests, until SIGTERM or Ctrl-C.",
    "status": "Show the schedule: each source's last and next check, outlets' breakers, "
    "the daemon.",
    "match": "Show whether articles are on-topic for an event and each watch item's score.",
    "demo": "Replay the seed event's sources in two states, crawl them, report what changed.",
}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run an import with the cycle collector paused, then freeze what it built.

    Importing a command's modules (SQLAlchemy, rich) builds some hundred thousand objects,
    and the collector, run every 700 allocations, walked them over and over: a fifth of
    `watchdesk status`'s CPU time. Modules live as long as the process; frozen, they are
    skipped by every later collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; a crawl stopped by SIGINT/SIGTERM exits with 128 + signal."""
        try:
            return super().invoke(ctx)
        except Interrupted as stop:
            click.echo(f"watchdesk: {stop}; stopped", err=True)
            ctx.exit(stop.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        with collector_paused():
            command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from SUMMARIES where they are (no imports)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in SUMMARIES:
                summary = click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit)
                rows.append((name, summary))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="WATCHDESK_DB",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL of the store (default: SQLite in the user data directory; "
    "env WATCHDESK_DB).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, db: str | None, verbose: int) -> None:
    """watchdesk: keep an event card's cited sources under watch and tell editors what changed."""
    # Crawls log through Scrapy's root handler at LOG_LEVEL (WARNING, -v INFO, -vv DEBUG; see
    # crawl_settings); other commands print what matters themselves.
    ctx.obj = Context(db_url=db, verbose=verbose)
