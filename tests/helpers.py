"""Helpers for tests: paths, and the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ARTIFACTS = ROOT / "tests" / ".artifacts"
DEMO_PAGES = ROOT / "crawler" / "demo" / "pages"


def run_cli(
    *args: str,
    db: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `watchdesk --db DB ARGS…` in a subprocess (a Twisted reactor starts once per
    process, so every crawl gets its own)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--db", db, *args],
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
        check=False,
    )


def write_card(
    path: Path,
    urls: dict[str, str],
    *,
    slug: str = "crawl-cases",
    summary: str = "Every state of the fetch state machine.",
    outlet: str | None = None,
) -> Path:
    """A YAML card citing `urls` (name -> URL), one watch item; each source its own outlet
    ("Outlet <name>") unless `outlet` names one for all."""
    card = {
        "slug": slug,
        "title": slug.replace("-", " ").capitalize(),
        "summary": summary,
        "watch": ["Whether anything happens."],
        "sources": [
            {"outlet": outlet or f"Outlet {name}", "url": url, "language": "en"}
            for name, url in urls.items()
        ],
    }
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return path


def spawned_workers(parent: int) -> list[int]:
    """Children of `parent` that are multiprocessing spawn workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found
