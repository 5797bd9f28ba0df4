"""The `watchdesk` command as a user runs it (subprocess, real SQLite store)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from crawler.config import watchdesk_setting_names
from scheduler import names, state
from scheduler.breaker import Breaker
from storage import workers
from storage.db import open_store
from storage.models import Event, Page
from storage.repositories import utcnow
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


def test_every_setting_is_documented_in_the_readme_and_every_documented_one_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The rows of the README's settings tables: "| `WATCHDESK_NAME` | default | meaning |".
    documented = set(re.findall(r"^\| `(WATCHDESK_[A-Z_]+)` \|", readme, re.MULTILINE))
    defined = set(watchdesk_setting_names())
    assert not defined - documented, f"missing from the README: {sorted(defined - documented)}"
    assert not documented - defined, (
        f"documented but not in crawler/settings.py (so no environment variable reaches them): "
        f"{sorted(documented - defined)}"
    )
    assert {"WATCHDESK_CONTACT_URL", "WATCHDESK_LEASE_MINUTES"} <= defined


def _settings_in_subprocess(env: dict[str, str], code: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    full_env.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_contact_url_and_lease_minutes_come_from_the_environment() -> None:
    code = (
        "from crawler.config import project_settings; s = project_settings(); "
        "print(s.get('USER_AGENT')); print(s.getint('WATCHDESK_LEASE_MINUTES'))"
    )
    default_agent, default_lease = _settings_in_subprocess({}, code).splitlines()
    assert "https://github.com/watchdesk/watchdesk#contact" in default_agent
    assert default_lease == "30"
    env = {"WATCHDESK_CONTACT_URL": "https://desk.example.org/bots", "WATCHDESK_LEASE_MINUTES": "7"}
    agent, lease = _settings_in_subprocess(env, code).splitlines()
    assert agent == "watchdesk/0.1 (+https://desk.example.org/bots; newsroom source monitor)"
    assert lease == "7"
    override = (
        "from crawler.config import project_settings; "
        "print(project_settings({'WATCHDESK_CONTACT_URL': 'https://x.example/c'})['USER_AGENT'])"
    )
    assert "(+https://x.example/c;" in _settings_in_subprocess({}, override)


def test_scrapy_sees_the_project(tmp_path: Path) -> None:
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


# --- a quick CLI (issue 11) -------------------------------------------------------------------

#: What no command imports before it needs it (each costs tens to hundreds of ms).
HEAVY = ("scrapy", "alembic", "trafilatura", "twisted", "jieba", "apscheduler", "jinja2")
#: What the read-only commands do not import either: they read the Core tables, so neither the
#: ORM nor what is built on it (mapped classes, repositories, the scheduler's state), nor the
#: card parser and the matcher.
ORM = (
    "sqlalchemy.orm",
    "storage.models",
    "storage.repositories",
    "scheduler.state",
    "crawler.cards",
    "crawler.matching",
)


def _modules_after(
    args: list[str], watched: tuple[str, ...], env: dict[str, str] | None = None
) -> list[str]:
    """Run `watchdesk ARGS` in a fresh interpreter; which of `watched` (packages or modules,
    with their submodules) it loaded."""
    code = (
        "import sys\n"
        "from crawler.cli import main\n"
        f"try:\n    main({args!r})\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        f"watched = {watched!r}\n"
        "print(sorted(w for w in watched if any(m == w or m.startswith(w + '.') "
        "for m in sys.modules)))\n"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_help_imports_no_heavy_module() -> None:
    assert _modules_after(["--help"], (*HEAVY, "sqlalchemy", "storage")) == []


def _busy_store(db: str, now: datetime) -> None:
    """The seed event, checked, plus what `status` shows besides: a leader, a worker holding
    a page, an open breaker, a failing page."""
    assert run_cli("event", "add", str(SEED), db=db).returncode == 0
    ttl = timedelta(minutes=5)
    with open_store(db).begin() as session:
        workers.beat(session, "w1", now)
        assert state.take_lease(session, names.DAEMON_LEASE, "w1", ttl, now)
        session.execute(update(Page).values(state="ok", next_check_at=now + ttl))
        first, second = session.scalars(select(Page).order_by(Page.id).limit(2))
        first.lease_owner, first.lease_until = "w1", now + ttl
        second.state, second.consecutive_failures = "failing", 3
        state.save_breaker(session, second.host, Breaker(now + timedelta(hours=1), 2))


def test_event_list_and_status_import_no_heavy_module(db_url: str) -> None:
    _busy_store(db_url, utcnow())
    # The store is at the newest migration: opening it needs no Alembic.
    assert _modules_after(["--db", db_url, "event", "list"], HEAVY + ORM) == []
    assert _modules_after(["--db", db_url, "status"], HEAVY + ORM) == []


def test_status_and_event_list_show_what_the_store_holds(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from crawler.cli import main, status

    now = utcnow()
    _busy_store(db_url, now)
    with open_store(db_url)() as session:
        failing = session.scalars(select(Page).where(Page.state == "failing")).one()
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(status, "STATUS_ROWS", 3)
    runner = CliRunner()

    shown = runner.invoke(main, ["--db", db_url, "status"])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "daemon leader: w1, lease until" in out
    assert re.search(r"│ w1 +│ .+ │ 1 +│ 0 +│", out), out  # the worker holds one page
    assert re.search(rf"{re.escape(failing.host)} +│ open \(until .*, trip 2\)", out), out
    rows = [line for line in out.splitlines() if "https://" in line]
    assert len(rows) == 3 and failing.url in rows[0] and "failing" in rows[0]  # not ok first
    assert "… and 4 more sources (ok 4); --all lists them" in out, out
    everything = runner.invoke(main, ["--db", db_url, "status", "--all"]).output
    assert len([line for line in everything.splitlines() if "https://" in line]) == 7
    assert "leased" in everything and "more sources" not in everything
    unknown = runner.invoke(main, ["--db", db_url, "status", "--event", "nope"])
    assert unknown.exit_code == 1 and "no event 'nope'" in unknown.output

    listed = runner.invoke(main, ["--db", db_url, "event", "list"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"paraguay-pena-taiwan-2026 │ 2026-05-08 │ 7 ", listed.output), listed.output


def test_a_store_from_a_newer_watchdesk_is_a_clear_error(sqlite_url: str) -> None:
    assert run_cli("event", "add", str(SEED), db=sqlite_url).returncode == 0
    with open_store(sqlite_url).begin() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    for command in (["status"], ["event", "list"], ["event", "show", "x"]):
        result = run_cli(*command, db=sqlite_url)
        assert result.returncode == 1, command
        assert "was it written by a newer watchdesk?" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_help_lists_each_command_with_its_own_summary() -> None:
    import click

    from crawler.cli import COMMANDS, SUMMARIES, main

    assert set(SUMMARIES) <= set(COMMANDS)
    for name, summary in SUMMARIES.items():
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None
        listed = click.Command(name, help=summary)
        for limit in (45, 60, 1000):
            assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), name
    result = run_cli("--help", db="sqlite://")
    assert result.returncode == 0
    assert all(name in result.stdout for name in COMMANDS)


# --- page and card text is data, never console markup (issue 10) ------------------------------

MARKUP = "[/bold] [red]x[/red] :smile: [link=https://evil.example]y[/link]"


def test_card_text_prints_literally(sqlite_url: str, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    first_line = text.splitlines()[0]
    card = tmp_path / "markup.md"
    card.write_text(
        text.replace(first_line, f"{first_line} {MARKUP}", 1).replace(
            "Focus Taiwan", "Focus [/i] Taiwan", 1
        ),
        encoding="utf-8",
    )
    assert run_cli("event", "add", str(card), db=sqlite_url).returncode == 0
    wide = {"COLUMNS": "400"}
    listed = run_cli("event", "list", db=sqlite_url, env=wide)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    assert MARKUP in listed.stdout
    shown = run_cli("event", "show", "paraguay-pena-taiwan-2026", db=sqlite_url, env=wide)
    assert shown.returncode == 0, shown.stderr
    assert MARKUP in shown.stdout and "Focus [/i] Taiwan" in shown.stdout
    status = run_cli("status", db=sqlite_url, env=wide)
    assert status.returncode == 0, status.stderr
    assert "Focus [/i] Taiwan" in status.stdout


def test_page_text_prints_literally_in_history(sqlite_url: str) -> None:
    from storage.models import Change, Fetch, Version
    from storage.repositories import utcnow

    assert run_cli("event", "add", str(SEED), db=sqlite_url).returncode == 0
    now = utcnow()
    with open_store(sqlite_url).begin() as session:
        page = session.scalars(select(Page).order_by(Page.id)).first()
        assert page is not None
        url = page.url
        versions = [
            Version(
                page_id=page.id,
                number=number,
                seen_at=now,
                fingerprint="f" * 64,
                text_hash=str(number) * 64,
                body_hash=str(number) * 64,
                final_url=url,
                title=f"Headline {number} {MARKUP}",
                published="[/b]",
                paragraphs=["x"],
                extractor="test",
                extractor_version="1",
                raw_html=b"",
            )
            for number in (1, 2)
        ]
        session.add_all(versions)
        session.flush()
        session.add(
            Change(
                page_id=page.id,
                from_version_id=versions[0].id,
                to_version_id=versions[1].id,
                detected_at=now,
                kind="headline",
                kinds=["headline"],
                significant=True,
                summary=f"Headline changed {MARKUP}",
            )
        )
        session.add(Fetch(page_id=page.id, started_at=now, status=200, outcome="new", error=MARKUP))
    result = run_cli("history", url, db=sqlite_url, env={"COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Headline 2 {MARKUP}" in result.stdout
    assert f"Headline changed {MARKUP}" in result.stdout
    assert "[/b]" in result.stdout
    diff = run_cli("diff", url, db=sqlite_url, env={"COLUMNS": "400"})
    assert diff.returncode == 0, diff.stderr
    assert f"{url}  v1 → v2" in diff.stdout


# --- clear errors instead of tracebacks (issue 10) ---------------------------------------------


def test_event_add_of_a_missing_file_is_a_clear_error(sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli("event", "add", str(tmp_path / "nope.md"), db=sqlite_url)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "nope.md" in result.stderr
    assert "Traceback" not in result.stderr


def test_event_add_refuses_an_over_long_outlet_name(sqlite_url: str, tmp_path: Path) -> None:
    card = tmp_path / "long.md"
    card.write_text(
        SEED.read_text(encoding="utf-8").replace("Focus Taiwan", "Focus " + "T" * 300, 1),
        encoding="utf-8",
    )
    result = run_cli("event", "add", str(card), db=sqlite_url)
    assert result.returncode == 1
    assert "long.md line" in result.stderr and "outlet name is 306 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(sqlite_url, Event) == 0


def test_event_add_refuses_a_card_without_watch_items(sqlite_url: str, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    start = text.index("## What to watch")
    end = text.index("\n## ", start + 1)
    card = tmp_path / "bare.md"
    card.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    result = run_cli("event", "add", str(card), db=sqlite_url)
    assert result.returncode == 1
    assert "card 'paraguay-pena-taiwan-2026' has no watch items" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(sqlite_url, Event) == 0


def test_match_explains_an_article_and_refuses_unknown_input(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert run_cli("event", "add", str(SEED), db=sqlite_url).returncode == 0
    story = tmp_path / "story.txt"
    story.write_text(
        "Primer envío de pollo paraguayo llega a Taiwán\n"
        "Asunción (IP) - El primer contenedor de carne de pollo paraguaya llegó al puerto de "
        "Keelung, informó el Ministerio de Industria y Comercio. Las exportaciones avícolas "
        "a Taiwán podrían alcanzar 3.000 toneladas este año.",
        encoding="utf-8",
    )
    done = run_cli("match", "--event", "paraguay-pena-taiwan-2026", str(story), db=sqlite_url)
    assert done.returncode == 0, done.stderr
    assert "on-topic" in done.stdout and "anchors:" in done.stdout
    rows = re.findall(r"│\s*([1-4])\s*│\s*(yes)?\s*│\s*(-?\d\.\d{3})", done.stdout)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    linked = [r[0] for r in rows if r[1]]
    assert linked == ["2"]  # the poultry item, and only it
    missing = run_cli(
        "match", "--event", "paraguay-pena-taiwan-2026", "https://nowhere.example/x", db=sqlite_url
    )
    assert missing.returncode != 0 and "neither a file nor a stored page" in missing.stderr
    binary = tmp_path / "scan.pdf"
    binary.write_bytes(b"%PDF-1.7\x00\x01\x02")
    refused = run_cli("match", "--event", "paraguay-pena-taiwan-2026", str(binary), db=sqlite_url)
    assert refused.returncode != 0 and "not text or HTML" in refused.stderr
    unknown = run_cli("match", "--event", "no-such-event", str(story), db=sqlite_url)
    assert unknown.returncode != 0 and "no event 'no-such-event'" in unknown.stderr
