"""CPU cost of one page's extraction against plain trafilatura (the issue 11 extract ceiling).

The ceiling spider calls `trafilatura.extract(body)`; watchdesk's workers call `extract_page`
(challenge check, trafilatura, our metadata, hashes, compressed body). Both run here on the
181 scrapinghub pages, interleaved page by page so that the load of other processes hits
them alike, timed in CPU time (`time.process_time`), after one warm-up pass over the pages
(first-call costs: dateparser locales, regex compilation). The best of `--rounds` rounds is
reported, and the ratio the first pass has to beat (watchdesk's ÷ the ceiling's per page).

    python bench/extract_cost.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.extract.extraction import extract_page  # noqa: E402

SCRAPINGHUB = ROOT / "tests" / "fixtures" / "scrapinghub"


def _pages() -> list[tuple[str, bytes]]:
    """(URL, body) of every benchmark page."""
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text("utf-8"))
    return [
        (record["url"], gzip.decompress((SCRAPINGHUB / "html" / f"{key}.html.gz").read_bytes()))
        for key, record in sorted(truth.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages = _pages()
    runs: dict[str, Callable[[str, bytes], object]] = {
        "trafilatura.extract": lambda url, body: trafilatura.extract(body),
        "trafilatura.extract fast": lambda url, body: trafilatura.extract(body, fast=True),
        "extract_page": lambda url, body: extract_page(body, 200, url, "text/html"),
    }
    for url, body in pages:
        for run in runs.values():
            run(url, body)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.rounds):
        spent = dict.fromkeys(runs, 0.0)
        for url, body in pages:
            for name, run in runs.items():
                start = time.process_time()
                run(url, body)
                spent[name] += time.process_time() - start
        best = {name: min(best[name], spent[name] / len(pages) * 1000) for name in runs}
    for name, ms in best.items():
        print(f"{name:26s} {ms:5.1f} ms a page (CPU, best of {args.rounds} rounds)")
    ratio = best["extract_page"] / best["trafilatura.extract"]
    print(f"extract_page / trafilatura.extract: {ratio:.2f}")


if __name__ == "__main__":
    main()
