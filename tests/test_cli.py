"""The `watchdesk` command as a user runs it (subprocess, real SQLite store)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from crawler.config import watchdesk_setting_names
from storage.db import open_store
from storage.models import Event, Page
from tests.helpers import FIXTURES, ROOT, run_cli

CARDS = FIXTURES / "cards"
SEED = CARDS / "paraguay-pena-taiwan-2026.md"


def count(db: str, model: type) -> int:
    with open_store(db)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_event_add_prints_slug_last_and_is_idempotent(sqlite_url: str) -> None:
    first = run_cli("event", "add", str(SEED), db=sqlite_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "paraguay-pena-taiwan-2026"
    assert "7 sources, 4 watch items" in first.stdout
    again = run_cli("event", "add", "-", db=sqlite_url, input=SEED.read_bytes())
    assert again.stdout.splitlines() == [
        "event paraguay-pena-taiwan-2026 unchanged",
        "paraguay-pena-taiwan-2026",
    ]
    changed = run_cli("event", "add", str(CARDS / "paraguay-pena-taiwan-2026-v2.md"), db=sqlite_url)
    assert "source retired" in changed.stdout and "source added" in changed.stdout
    assert changed.stdout.splitlines()[-1] == "paraguay-pena-taiwan-2026"
    listed = run_cli("event", "list", db=sqlite_url)
    assert "paraguay-pena-taiwan-2026" in listed.stdout
    shown = run_cli("event", "show", "paraguay-pena-taiwan-2026", db=sqlite_url)
    assert "watch 1:" in shown.stdout and "never" in shown.stdout


def test_malformed_card_is_refused_and_nothing_is_stored(sqlite_url: str) -> None:
    for name, line in (("duplicate-source.md", 11), ("source-javascript.md", 8)):
        result = run_cli("event", "add", str(CARDS / "broken" / name), db=sqlite_url)
        assert result.returncode == 1
        assert f"line {line}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    binary = run_cli("event", "add", str(CARDS / "broken" / "binary.md"), db=sqlite_url)
    assert binary.returncode == 1 and "not a text file" in binary.stderr
    assert count(sqlite_url, Event) == 0 and count(sqlite_url, Page) == 0


def test_unknown_event_and_url_give_clear_errors(sqlite_url: str) -> None:
    report = run_cli("report", "--event", "nope", db=sqlite_url)
    assert report.returncode == 1 and "no event 'nope'" in report.stderr
    history = run_cli("history", "https://example.org/x", db=sqlite_url)
    assert history.returncode == 1 and "is not watched" in history.stderr
    since = run_cli("report", "--event", "nope", "--since", "yesterday-ish", db=sqlite_url)
    assert since.returncode == 2 and "neither a duration" in since.stderr


def test_report_json_of_a_fresh_event(sqlite_url: str) -> None:
    run_cli("event", "add", str(SEED), db=sqlite_url)
    result = run_cli(
        "report", "--event", "paraguay-pena-taiwan-2026", "--format", "json", db=sqlite_url
    )
    data = json.loads(result.stdout)
    assert data["event"]["slug"] == "paraguay-pena-taiwan-2026"
    assert [item["id"] for item in data["watch_items"]] == [1, 2, 3, 4]
    assert data["changes"] == [] and data["errors"] == []


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(WATCHDESK_[A-Z_]+)`", readme))
    missing = set(watchdesk_setting_names()) - documented
    assert not missing, f"settings missing from the README's table: {sorted(missing)}"


def test_scrapy_sees_the_project(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "watch" in result.stdout.split()
