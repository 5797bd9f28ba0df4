"""Engines and sessions: SQLite by default (WAL, a file in the user's data directory),
PostgreSQL or anything SQLAlchemy speaks by URL.

Reads: WATCHDESK_DB (environment) or the URL given by the caller (`watchdesk --db`).
"""

from __future__ import annotations

import ast
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

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


def _migration_head() -> str | None:
    """The newest revision, read from the migration files without importing Alembic.

    None when the files do not give one clear head (a parse failure, several heads): the
    caller then asks Alembic.
    """
    parents: dict[str, tuple[str, ...]] = {}
    try:
        for path in (MIGRATIONS / "versions").glob("*.py"):
            values: dict[str, Any] = {}
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    target, value = node.target, node.value
                else:
                    continue
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    values[target.id] = ast.literal_eval(value)
            if "revision" not in values:
                continue  # __init__.py and other helpers
            down = values.get("down_revision")
            parents[values["revision"]] = (
                () if down is None else (down,) if isinstance(down, str) else tuple(down)
            )
    except (OSError, SyntaxError, ValueError, TypeError):
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


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is).

    The common case, a database already at the head of the migration files, costs one
    query and no Alembic import; anything else goes through Alembic.
    """
    head = _migration_head()
    if head is not None and _stored_revision(engine) == head:
        return
    if not is_current(engine):
        from alembic import command

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
