"""The `watchdesk` command: thin click commands over the library.

Global options come before the subcommand (`watchdesk --db URL crawl …`); every command
frames its own transaction. Printing happens only in this package.
"""

from __future__ import annotations

import click

from crawler.cli.common import Context
from crawler.cli.crawl import crawl
from crawler.cli.daemon import daemon, status
from crawler.cli.demo import demo
from crawler.cli.discover import discover
from crawler.cli.events import event
from crawler.cli.history import history
from crawler.cli.report import diff, report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


main.add_command(event)
main.add_command(crawl)
main.add_command(discover)
main.add_command(history)
main.add_command(demo)
main.add_command(report)
main.add_command(diff)
main.add_command(daemon)
main.add_command(status)
