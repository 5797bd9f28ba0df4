"""Engines and sessions: SQLite by default (WAL, a file in the user's data directory),
PostgreSQL or anything SQLAlchemy speaks by URL.

Reads: WATCHDESK_DB (environment) or the URL given by the caller (`watchdesk --db`).
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event
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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is)."""
    if not is_current(engine):
        logger.info("upgrading database schema at %s", engine.url.render_as_string())
        command.upgrade(alembic_config(engine), "head")


def open_store(url: str | None = None) -> sessionmaker[Session]:
    """Engine + schema upgrade + session factory: what every command starts with.

    One per URL and process: the spider, the pipelines and the run extension of a crawl
    share the engine and its pool, and the schema is checked once.
    """
    return _open_store(resolve_url(url))


@cache
def _open_store(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)
