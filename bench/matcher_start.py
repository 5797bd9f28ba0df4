"""CPU a crawl's matcher process spends before its first link: spawn, encoder, profile.

Each crawl spawns its own matcher process (`crawler/matching/process.py`). This starts one
the way a crawl does (`MatcherProcess`, one BLAS thread), then times in that process, as CPU
read from /proc: the spawn and imports, the encoder's load, the profile of an event like the
side-by-side benchmark's (a card, three watch items, ten cited articles from the scrapinghub
pages) and its first edit. Twice: with an empty cache folder (what every crawl paid before
`crawler/matching/disk_cache.py`) and with the files the first run left.

    python bench/matcher_start.py
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract.extraction import extract_article  # noqa: E402
from crawler.matching.process import MatcherProcess, load_encoder, profile_key  # noqa: E402

SCRAPINGHUB = ROOT / "tests" / "fixtures" / "scrapinghub"
EDIT = ["Officials confirmed on Tuesday that the figures in this report were revised."]


def _cpu(pid: int) -> float:
    """User + system seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _key() -> str:
    """A profile key like the side-by-side event's: ten real articles cited."""
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text("utf-8"))
    sources = []
    for name, record in sorted(truth.items())[:10]:
        body = gzip.decompress((SCRAPINGHUB / "html" / f"{name}.html.gz").read_bytes())
        article = extract_article(body, record["url"])
        sources.append((article.title, "\n".join(article.paragraphs)))
    return profile_key(
        title="Ministry revises the figures of its reports",
        lede=None,
        summary="Officials revised published figures after a second review by the ministry.",
        entities=None,
        entity_terms=None,
        overrides=None,
        items=[
            (1, "Whether officials confirm that the figures in the report were revised.", {}),
            (2, "Whether the ministry completes a second review of the report.", {}),
            (3, "Whether the government publishes a new budget.", {}),
        ],
        sources=sources,
    )


def measure(key: str) -> dict[str, float]:
    """CPU seconds of each step in a fresh matcher process."""
    matcher = MatcherProcess()
    try:
        executor = matcher.start()
        assert executor is not None
        executor.submit(os.getpid).result()
        (pid,) = matcher.pids()
        steps = {"spawn and imports": _cpu(pid)}
        executor.submit(load_encoder).result()
        steps["encoder"] = _cpu(pid) - sum(steps.values())
        matcher.relate_edit(key, title=None, added=EDIT, removed=[], language="en")
        steps["profile and first edit"] = _cpu(pid) - sum(steps.values())
        return steps
    finally:
        matcher.close()


def main() -> None:
    key = _key()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["WATCHDESK_CACHE_DIR"] = folder
        for run in ("empty cache folder", "cache files present"):
            steps = measure(key)
            parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
            print(f"{run:20s} total {sum(steps.values()):.2f} s CPU: {parts}")


if __name__ == "__main__":
    main()
