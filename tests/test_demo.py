"""`watchdesk demo` end to end, and the HTML report in a real headless Chromium.

The demo's state-2 pages are labelled version pairs (crawler/demo/expected.yaml): each cited
URL must come out with exactly the expected kinds (a moved date stamp may come along: it is a
quiet kind), furniture-only and cosmetic-only pages with no change at all. State 2 also holds
the outlets' discovery endpoints and new articles, labelled in crawler/demo/expected_followups.yaml:
the report must list exactly those follow-ups, under their watch items.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import lxml.html
import pytest
import yaml
from PIL import Image
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from crawler.reports.render import SCHEMA, render
from storage.models import Change, Fetch, Outlet, Page
from storage.reporting import build_report
from storage.repositories import utcnow
from tests.helpers import ARTIFACTS, ROOT, run_cli
from tests.test_reports import HOSTILE, change, report

EXPECTED = yaml.safe_load((ROOT / "crawler" / "demo" / "expected.yaml").read_text())
FOLLOWUPS = yaml.safe_load((ROOT / "crawler" / "demo" / "expected_followups.yaml").read_text())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float]:
    out = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    result = run_cli("demo", "--out", str(out), db=f"sqlite:///{out / 'demo.db'}", timeout=120)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout, seconds


def test_demo_reports_the_labelled_changes(demo_run: tuple[Path, str, float]) -> None:
    out, stdout, seconds = demo_run
    print(f"demo took {seconds:.1f} s")
    engine = create_engine(f"sqlite:///{out / 'demo.db'}")
    with Session(engine) as session:
        for url, expected in EXPECTED.items():
            kinds = {
                k
                for c in session.scalars(select(Change).join(Page).where(Page.url == url))
                for k in c.kinds
            }
            wanted = set(expected["kinds"]) - {"none"}
            assert wanted <= kinds, (url, kinds)
            assert kinds - wanted <= {"dates"}, (url, kinds)
            if "first_crawl" in expected:
                outcomes = list(
                    session.scalars(
                        select(Fetch.outcome).join(Page).where(Page.url == url).order_by(Fetch.id)
                    )
                )
                assert outcomes[1] == expected["first_crawl"], (url, outcomes)
    engine.dispose()
    assert "## Watch item 1" in stdout and "## Unreachable sources" in stdout


def test_demo_writes_valid_reports(demo_run: tuple[Path, str, float]) -> None:
    out, _, _ = demo_run
    data = json.loads((out / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    kinds = {c["kind"] for c in data["changes"]}
    assert {"headline", "correction", "edit", "removed"} <= kinds
    html = (out / "report.html").read_text()
    assert "<ins>" in html and "<del>" in html


def test_demo_reports_the_follow_ups(demo_run: tuple[Path, str, float]) -> None:
    out, stdout, _ = demo_run
    engine = create_engine(f"sqlite:///{out / 'demo.db'}")
    with Session(engine) as session:
        report = build_report(session, FOLLOWUPS["event"], utcnow() - timedelta(days=1), utcnow())
        fetched = set(session.scalars(select(Page.url).where(Page.origin == "discovered")))
        broken = {o.name: o.last_discovery_error for o in session.scalars(select(Outlet))}
    engine.dispose()
    found = {frozenset((f.url, *f.also_at)): f.watch_items for f in report.follow_ups}
    wanted = {frozenset(g["urls"]): tuple(g["items"]) for g in FOLLOWUPS["followups"]}
    assert found == wanted
    absent = {a["url"] for a in FOLLOWUPS["absent"]}
    assert absent <= fetched  # fetched and scored, so leaving them out was a decision
    assert not any(broken.values()), broken
    assert "0 broken endpoint(s)" in stdout
    sections = report_sections(stdout)
    for entry in report.follow_ups:
        titles = [f"Watch item {n}:" for n in entry.watch_items] or ["Related follow-ups"]
        for title in titles:
            section = next(text for head, text in sections if head.startswith(title))
            assert f"(<{entry.url}>)" in section, (title, entry.url)
            assert all(f"<{url}>" in section for url in entry.also_at), (title, entry.also_at)


def report_sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, body) of each `## ` section of the printed Markdown report."""
    sections = []
    for part in markdown.split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        sections.append((heading, body))
    return sections


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium as the env notes prescribe: no network chatter, a fresh profile."""
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"wd-chromium-{os.getpid()}"
    command = [
        chromium() or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.chromium
def test_html_report_in_chromium(demo_run: tuple[Path, str, float], tmp_path: Path) -> None:
    if chromium() is None:
        reason = "chromium is not installed (Debian package `chromium`; .ci/run installs it)"
        if os.environ.get("WATCHDESK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    out, _, _ = demo_run
    hostile = change("headline", (1,), title=HOSTILE, summary=HOSTILE, added=(HOSTILE,))
    page = tmp_path / "hostile.html"
    demo_html = (out / "report.html").read_text()
    # The demo's report with a hostile change added at the top of its body.
    extra = render(report(hostile), "html").split("<body>", 1)[1].split("</body>", 1)[0]
    page.write_text(demo_html.replace("<body>", "<body>" + extra, 1), encoding="utf-8")

    dom = headless(page.as_uri(), "--dump-dom", "--virtual-time-budget=2000")
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = lxml.html.fromstring(dom.stdout)
    assert "pwned" not in tree.findtext(".//title")  # no script ran
    assert not tree.xpath("//script") and not tree.xpath("//*[@onerror]")  # none was injected
    assert HOSTILE in tree.text_content()  # the hostile text is shown, as text

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-chromium.png"
    taken = headless(
        page.as_uri(), f"--screenshot={shot}", "--window-size=1200,2400", "--hide-scrollbars"
    )
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20) or []
    present = {rgb for _, rgb in colours}
    assert (212, 245, 212) in present, "no inserted-text highlight visible"  # ins background
    assert (248, 208, 208) in present, "no deleted-text highlight visible"  # del background


def test_history_and_diff_of_an_edited_source(demo_run: tuple[Path, str, float]) -> None:
    out, _, _ = demo_run
    db = f"sqlite:///{out / 'demo.db'}"
    url = next(u for u, e in EXPECTED.items() if "headline" in e["kinds"])
    history = run_cli("history", url, db=db)
    assert history.returncode == 0, history.stderr
    assert "headline" in history.stdout and "not_modified" in history.stdout
    diff = run_cli("diff", url, db=db)
    assert diff.returncode == 0, diff.stderr
    assert "v1 → v2" in diff.stdout and "pawns" in diff.stdout
    first = run_cli("diff", url, "--from", "1", "--to", "9", db=db)
    assert first.returncode == 1 and "versions available: [1, 2]" in first.stderr


def test_demo_without_the_terms_file(tmp_path: Path) -> None:
    """The same demo linked by the term-free matcher (issue 9's last criterion, not yet met).

    Prints what it gets right and wrong against the labels; the floors sit at what it does
    today (every item follow-up under its right item; the related one and three of the five
    off-topic articles are still reported), so a regression fails and progress shows.
    """
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_cli("demo", "--no-terms", "--out", str(tmp_path), db=db, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(db)
    with Session(engine) as session:
        report = build_report(session, FOLLOWUPS["event"], utcnow() - timedelta(days=1), utcnow())
    engine.dispose()
    found = {url: f.watch_items for f in report.follow_ups for url in (f.url, *f.also_at)}
    groups = FOLLOWUPS["followups"]
    right = [g for g in groups if all(found.get(u) == tuple(g["items"]) for u in g["urls"])]
    on_items = [g for g in groups if g["items"]]
    reported_absent = [a["url"] for a in FOLLOWUPS["absent"] if a["url"] in found]
    print(
        f"demo without terms: {len(right)}/{len(groups)} follow-ups placed right "
        f"({sum(g in right for g in on_items)}/{len(on_items)} with a watch item); "
        f"{len(reported_absent)}/{len(FOLLOWUPS['absent'])} off-topic articles reported"
    )
    assert all(g in right for g in on_items)
    assert len(reported_absent) <= 3
