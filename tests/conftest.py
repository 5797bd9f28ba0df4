"""Shared fixtures: a store on each backend, the replay web, and the CLI in a subprocess.

Backends: every test that takes `db_url` runs on SQLite (a temporary file) and on PostgreSQL
(a schema of its own in the database named by WATCHDESK_TEST_PG). PostgreSQL tests skip with
the reason when the server is absent, unless WATCHDESK_REQUIRE_PG=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.db import open_store
from tests.helpers import ARTIFACTS

PG_URL = os.environ.get("WATCHDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def _encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's matcher processes (and its crawls' subprocesses) keep the loaded encoder
    in a folder of their own, not in the user's cache (`crawler.matching.encoder`)."""
    os.environ.pop("WATCHDESK_CACHE_DIR", None)
    # XDG_CACHE_HOME, not WATCHDESK_CACHE_DIR: the suite's subprocesses drop WATCHDESK_*.
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "absent" here
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


def require_pg(pg_reason: str | None) -> None:
    """Skip a PostgreSQL test when the server is absent (fail instead under
    WATCHDESK_REQUIRE_PG=1, as in CI)."""
    if pg_reason:
        if os.environ.get("WATCHDESK_REQUIRE_PG") == "1":
            pytest.fail(f"{pg_reason} (WATCHDESK_REQUIRE_PG=1)")
        pytest.skip(pg_reason)


@contextmanager
def pg_schemas() -> Iterator[Callable[[], str]]:
    """Make fresh PostgreSQL stores, one schema each, all dropped on the way out."""
    admin = create_engine(PG_URL)
    made: list[str] = []

    def make() -> str:
        schema = f"wd_{uuid.uuid4().hex[:10]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    try:
        yield make
    finally:
        with admin.begin() as connection:
            for schema in made:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backend_url(backend: str, folder: Path, pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty store URL on `backend` ("sqlite": a file in `folder`; "postgresql": a
    schema of its own, dropped afterwards, or skipped/failed by `require_pg`). For fixtures
    of any scope: `yield from backend_url(request.param, folder, pg_reason)`."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'watchdesk.db'}"
        return
    require_pg(pg_reason)
    with pg_schemas() as make:
        yield make()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty store URL on each backend."""
    yield from backend_url(request.param, tmp_path, pg_reason)


@pytest.fixture
def pg_schema(pg_reason: str | None) -> Iterator[Callable[[], str]]:
    """A maker of fresh PostgreSQL stores, for tests that need several or only PostgreSQL
    (several processes on one store)."""
    require_pg(pg_reason)
    with pg_schemas() as make:
        yield make


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated store (both backends)."""
    factory = open_store(db_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store URL, for tests whose subject is not the backend."""
    return f"sqlite:///{tmp_path / 'watchdesk.db'}"


#: Quality figures the tests write, shown at the end of every run (CI's log included).
FIGURES = {
    "extraction-f1.txt": "extraction F1 on the scrapinghub benchmark",
    "revisions-accuracy.txt": "change kinds on real revision pairs",
    "matching-scores.txt": "watch-item linking on the labelled set",
    "linking-heldout.txt": "watch-item linking, term-free, on the held-out events (issue 9)",
}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._watchdesk_started = time.time()  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the figures that this run measured (files written during the run)."""
    started = getattr(config, "_watchdesk_started", 0)
    lines = []
    for name, title in FIGURES.items():
        path = ARTIFACTS / name
        if path.exists() and path.stat().st_mtime >= started:
            text = path.read_text(encoding="utf-8").strip().splitlines()
            lines.append(f"{title}:")
            lines.extend(f"  {line}" for line in text[:16])
    if lines:
        terminalreporter.section("watchdesk quality figures")
        for line in lines:
            terminalreporter.write_line(line)
