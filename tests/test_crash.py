"""A crawl killed with SIGKILL mid-way loses nothing, and the next crawl picks up at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from crawler.demo.replay import ReplayServer
from storage.models import Fetch, Page, Version
from tests.helpers import ROOT, run_cli, write_card
from tests.test_crawl import FAST, article_pages

pytestmark = pytest.mark.slow


def build(root: Path) -> dict[str, str]:
    """Eight real pages; four answer only after 20 s, so a kill finds them in flight."""
    bodies = article_pages()
    urls, routes = {}, {}
    for index in range(8):
        host = f"n{index % 2}.example"
        target = root / "state1" / host / "news" / f"{index}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bodies[index % len(bodies)])
        urls[f"page{index}"] = f"https://{host}/news/{index}"
        if index >= 4:
            routes[f"{host}/news/{index}"] = {"delay": 20}
    (root / "state1" / "routes.yaml").write_text(yaml.safe_dump(routes))
    return urls


def test_sigkill_mid_crawl_loses_nothing(tmp_path: Path, sqlite_url: str) -> None:
    urls = build(tmp_path / "root")
    run_cli("event", "add", str(write_card(tmp_path / "card.yaml", urls)), db=sqlite_url)
    with ReplayServer(tmp_path / "root") as server:
        env = {**os.environ, "WATCHDESK_HOST_MAP": json.dumps(server.host_map())}
        argv = [
            sys.executable,
            "-m",
            "crawler",
            "--db",
            sqlite_url,
            "crawl",
            "--event",
            "crawl-cases",
            *FAST,
            "-s",
            "DOWNLOAD_TIMEOUT=60",
        ]
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        engine = create_engine(sqlite_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the fast pages are stored
            with Session(engine) as session:
                if session.scalar(select(func.count(Version.id))) >= 4:
                    break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

        with Session(engine) as session:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            versions = session.scalar(select(func.count(Version.id)))
            assert versions == 4
            # Each stored version came with its fetch row, in the same transaction.
            orphans = session.scalar(
                select(func.count(Version.id)).where(
                    ~select(Fetch.id).where(Fetch.version_id == Version.id).exists()
                )
            )
            assert orphans == 0
            held = session.scalar(select(func.count(Page.id)).where(Page.lease_owner.is_not(None)))
            assert held == 4  # the in-flight pages, leased to the dead process

        # The next crawl does not wait 30 minutes for the dead process's leases.
        (tmp_path / "root" / "state1" / "routes.yaml").write_text("{}\n")  # no more delays
        server.set_state("state1")
        again = run_cli(
            "crawl",
            "--event",
            "crawl-cases",
            *FAST,
            db=sqlite_url,
            env={"WATCHDESK_HOST_MAP": json.dumps(server.host_map())},
        )
        assert again.returncode == 0, again.stderr[-2000:]
        with Session(engine) as session:
            assert session.scalar(select(func.count(Version.id))) == 8
            assert (
                session.scalar(select(func.count(Page.id)).where(Page.lease_owner.is_not(None)))
                == 0
            )
        engine.dispose()
