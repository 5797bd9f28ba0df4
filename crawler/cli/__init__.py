"""The `watchdesk` command: thin click commands over the library.

Global options come before the subcommand (`watchdesk --db URL crawl …`); every command
frames its own transaction. Printing happens only in this package. Subcommands are imported
when used (click's lazy-group pattern), so `watchdesk crawl` does not pay for the daemon's,
the report renderer's or the demo's imports.
"""

from __future__ import annotations

import importlib

import click

from crawler.cli.common import Context

#: Command name -> "module:attribute" of its click command, in the order `--help` lists them.
COMMANDS = {
    "event": "crawler.cli.events:event",
    "crawl": "crawler.cli.crawl:crawl",
    "discover": "crawler.cli.discover:discover",
    "report": "crawler.cli.report:report",
    "history": "crawler.cli.history:history",
    "diff": "crawler.cli.report:diff",
    "daemon": "crawler.cli.daemon:daemon",
    "status": "crawler.cli.daemon:status",
    "demo": "crawler.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


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
