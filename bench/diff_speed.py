"""Diff + classification speed on a 200 KB article pair.

The article is built from real paragraphs (the scrapinghub ground truth) up to 200 KB;
the edited copy has N sentences rewritten, added or removed at spread-out places. The
baseline in the same run is diff-match-patch's own character diff of the two whole texts
(what a naive monitor would do), so the figures compare like with like on this machine.

    python bench/diff_speed.py [--kb 200] [--edits 30] [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from diff_match_patch import diff_match_patch

from crawler.changes.classify import classify
from crawler.changes.diffing import diff_versions
from crawler.extract.article import ArticleText

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "tests" / "fixtures" / "scrapinghub" / "ground-truth.json"


def real_paragraphs(limit_bytes: int) -> list[str]:
    """Paragraphs of real articles, in a fixed order, up to `limit_bytes` of UTF-8."""
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    paragraphs, size = [], 0
    for key in sorted(truth):
        for paragraph in truth[key]["articleBody"].split("\n"):
            paragraph = paragraph.strip()
            if len(paragraph) < 40:
                continue
            paragraphs.append(paragraph)
            size += len(paragraph.encode()) + 2
            if size >= limit_bytes:
                return paragraphs
    return paragraphs


def edited(paragraphs: list[str], edits: int, seed: int = 7) -> list[str]:
    """Rewrite a number, add a sentence or drop a paragraph at `edits` spread-out places."""
    rng = random.Random(seed)
    result = list(paragraphs)
    for index in sorted(rng.sample(range(len(result)), edits), reverse=True):
        action = index % 3
        if action == 0:
            result[index] = (
                result[index].replace(" the ", " a ", 1) + " Officials put the toll at 57."
            )
        elif action == 1:
            result.insert(index, "The ministry said on Tuesday that the figures had been revised.")
        else:
            del result[index]
    return result


def timed(function, runs: int) -> float:
    """Median milliseconds of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def article(paragraphs: list[str]) -> ArticleText:
    return ArticleText(title="A long article", paragraphs=tuple(paragraphs), language="en")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=200)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    old_paragraphs = real_paragraphs(args.kb * 1024)
    old = article(old_paragraphs)
    new = article(edited(old_paragraphs, args.edits))
    unrelated = article(list(reversed(real_paragraphs(2 * args.kb * 1024)[len(old_paragraphs) :])))
    size = len(old.text.encode()) / 1024
    dmp = diff_match_patch()
    rows = [
        ("baseline: dmp char diff, whole text", lambda: dmp.diff_main(old.text, new.text)),
        ("diff_versions (paragraphs + words)", lambda: diff_versions(old, new)),
        ("diff_versions + classify", lambda: classify(old, new, diff_versions(old, new))),
        ("unrelated texts: diff + classify", lambda: classify(old, unrelated)),
    ]
    print(
        f"article: {size:.0f} KB, {len(old.paragraphs)} paragraphs, {args.edits} edits, "
        f"median of {args.runs} runs"
    )
    print("| step | ms |\n|---|---:|")
    for name, function in rows:
        print(f"| {name} | {timed(function, args.runs):.1f} |")
    result = classify(old, new)
    print(f"\nclassified as {[str(k) for k in result.kinds] if result else None}")


if __name__ == "__main__":
    main()
