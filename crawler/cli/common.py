"""What every command shares: the store, the console, and error reporting."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

if TYPE_CHECKING:  # the store (SQLAlchemy, maybe Alembic) is imported when a command opens it
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


@dataclass
class Context:
    """Global options, resolved lazily so `--help` never touches the database."""

    db_url: str | None = None
    verbose: int = 0
    console: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))

    @cached_property
    def url(self) -> str:
        """The store URL in force (explicit, WATCHDESK_DB, or the default SQLite file)."""
        from storage.db import resolve_url

        return resolve_url(self.db_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the store, with the schema upgraded."""
        from storage.db import StoreError, open_store

        try:
            return open_store(self.url)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def engine(self) -> Engine:
        """The store's engine, with the schema upgraded: for read-only commands, which query
        the Core tables (`storage.overview`) and so never import the ORM."""
        from storage.db import StoreError, open_engine

        try:
            return open_engine(self.url)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc


pass_context = click.make_pass_decorator(Context)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """`24h`, `30m`, `7d`, `2w` before `now`, or an ISO 8601 time (UTC when no offset).

    Raises:
        click.BadParameter: for anything else.
    """
    text = text.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (24h, 7d) nor an ISO 8601 time", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def crawl_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every crawling command shares: `--host-map` and `-s NAME=VALUE`."""
    command = click.option(
        "-s",
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a Scrapy or WATCHDESK_* setting (repeatable), as `scrapy -s`.",
    )(command)
    return click.option(
        "--host-map",
        metavar="JSON",
        envvar="WATCHDESK_HOST_MAP",
        help="JSON host -> base URL: fetch those hosts from a local replay server.",
    )(command)
