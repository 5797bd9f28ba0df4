"""Cost of the term-free matcher on this machine: model load, time per article, memory.

`python bench/matching.py` loads the encoder (first `embed`), builds the profiles of the
twelve linking events and times `relate` over their 250+ articles (each once, after one
warm-up pass), then prints load seconds, median and p90 milliseconds per article, and the
process's peak RSS before and after loading. Budget (issue 9): load <= 2 s, median <= 30 ms,
<= 200 MiB more RSS.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_mib() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Measure and print."""
    from tests.linking_eval import SPLIT, load_event

    before = peak_mib()
    start = time.perf_counter()
    from crawler.matching.encoder import embed
    from crawler.matching.matcher import relate

    embed(["warm up"])
    load = time.perf_counter() - start
    loaded = peak_mib()
    events = [load_event(slug) for slug in SPLIT["dev"] + SPLIT["heldout"]]
    articles = [(p, a) for p, arts in events for a in arts if a["kind"] != "edit"]
    for profile, art in articles[:5]:
        relate(profile, title=art["title"], text=art["text"])
    times = []
    for profile, art in articles:
        t = time.perf_counter()
        relate(profile, title=art["title"], text=art["text"])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"model load {load:.2f} s; RSS {before:.0f} -> {loaded:.0f} MiB after load, "
          f"{peak_mib():.0f} MiB after {len(articles)} articles")  # fmt: skip
    print(f"relate per article: median {statistics.median(times):.1f} ms, "
          f"p90 {times[int(len(times) * 0.9)]:.1f} ms, max {times[-1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
