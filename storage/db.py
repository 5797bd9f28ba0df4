"""Engines and sessions: SQLite by default (WAL, a file in the user's data directory),
PostgreSQL or anything SQLAlchemy speaks by URL.

Reads: WATCHDESK_DB (environment) or the URL given by the caller (`watchdesk --db`).
"""

from __future__ import annotations

import logging
import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, inspect, text

if TYPE_CHECKING:  # the ORM only for sessions: read-only commands query the Core tables
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """The embedded default: a SQLite file under the user's data directory."""
    folder = Path(user_data_dir("watchdesk", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'watchdesk.db'}"


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the explicit one, else WATCHDESK_DB, else the default SQLite file."""
    return url or os.environ.get("WATCHDESK_DB") or default_url()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `watchdesk report` read while a crawl writes; foreign keys are off by default
    # in SQLite; the busy timeout makes a second process wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for `url` (see `resolve_url`) with the right per-backend setup."""
    url = resolve_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`, independent of the working directory."""
    from alembic.config import Config  # Alembic is imported only when a migration may run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration (asks Alembic itself)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


#: `revision = "…"` / `down_revision = …` at the top level of a migration file.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def _migration_head() -> str | None:
    """The newest revision, read from the migration files without importing Alembic.

    A line scan, not a parse (parsing the files cost more than the rest of opening the
    store). None when the files do not give one clear head (an unreadable file or value,
    several heads): the caller then asks Alembic.
    """
    parents: dict[str, tuple[str, ...]] = {}
    try:
        for path in (MIGRATIONS / "versions").glob("*.py"):
            values = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
            if "revision" not in values:
                continue  # __init__.py and other helpers
            revision = _QUOTED.fullmatch(values["revision"])
            down = values.get("down_revision", "None")
            downs = tuple(_QUOTED.findall(down))
            if revision is None or (not downs and down != "None"):
                return None
            parents[revision[1]] = downs
    except OSError:
        return None
    referenced = {parent for ups in parents.values() for parent in ups}
    heads = [revision for revision in parents if revision not in referenced]
    return heads[0] if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The single revision in `alembic_version`, or None (no table, none, or several)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return rows[0][0] if len(rows) == 1 else None


class StoreError(RuntimeError):
    """The store cannot be brought to this version's schema (a newer watchdesk wrote it)."""


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is).

    The common case, a database already at the head of the migration files, costs one
    query and no Alembic import; anything else goes through Alembic.

    Raises:
        StoreError: when Alembic cannot (a revision these migrations do not know).
    """
    head = _migration_head()
    if head is not None and _stored_revision(engine) == head:
        return
    from alembic import command
    from alembic.util import CommandError

    try:
        if is_current(engine):
            return
        logger.info("upgrading database schema at %s", engine.url.render_as_string())
        command.upgrade(alembic_config(engine), "head")
    except CommandError as exc:
        raise StoreError(
            f"cannot bring the store at {engine.url.render_as_string()} to this version's "
            f"schema ({exc}); was it written by a newer watchdesk?"
        ) from exc


def open_engine(url: str | None = None) -> Engine:
    """The engine on the store, with the schema upgraded: what read-only commands start
    with (they query the Core tables of `storage.schema`, no ORM).

    One per URL and process, and the schema is checked once.
    """
    return _open_engine(resolve_url(url))


@cache
def _open_engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def open_store(url: str | None = None) -> sessionmaker[Session]:
    """Engine + schema upgrade + session factory: what every writing command starts with.

    One per URL and process: the spider, the pipelines and the run extension of a crawl
    share the engine and its pool.
    """
    return _open_store(resolve_url(url))


@cache
def _open_store(url: str) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(_open_engine(url), expire_on_commit=False)
