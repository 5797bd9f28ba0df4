"""Extraction quality and CPU on four real-page sets, for trafilatura's default and fast modes.

    python bench/extract_quality.py [--sets scrapinghub trafilatura readability fundus]

`extract_article` runs on every page of each set twice: as shipped (trafilatura's default,
`fast=False`) and with `fast=True`, which skips trafilatura's comparison with its
readability and jusText fallbacks (~15 % of a first pass's CPU in py-spy). One run shows
what the flag would save and what it would cost. Scores:

- scrapinghub (181 pages, annotators' article bodies): bag-of-words token precision and
  recall per page, their means, then F1 — the suite's regression gate;
- trafilatura (323 pages of its own evaluation): snippets that must appear (`with`) and must
  not (`without`), counted over all pages as trafilatura's own evaluation does;
- readability (42 real pages of Mozilla Readability's tests): token P/R against the text of
  `expected.html`;
- fundus (181 publishers' pages, 40 countries): token P/R against the summary and section
  paragraphs of the ground truth.

Only scrapinghub and trafilatura's snippets were looked at when the extraction was tuned
(the favor_recall trigger, furniture rules); readability and fundus are held out.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import trafilatura
from lxml import html as lxml_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.extract import extraction

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "extraction-benchmark"
_TOKEN = re.compile(r"\w+")

#: (page bytes, URL, scorer of the extracted text) for each page of a set.
Case = tuple[bytes, str, Callable[[str], tuple[float, float] | Counter[str]]]


def _tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def _token_pr(truth: str) -> Callable[[str], tuple[float, float]]:
    expected = _tokens(truth)

    def score(text: str) -> tuple[float, float]:
        got = _tokens(text)
        overlap = sum((expected & got).values())
        return (
            overlap / sum(got.values()) if got else 0.0,
            overlap / sum(expected.values()) if expected else 0.0,
        )

    return score


def scrapinghub() -> Iterator[Case]:
    root = CORPUS / "scrapinghub"
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    for page_id, record in sorted(truth.items()):
        body = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        yield body, record["url"], _token_pr(record["articleBody"])


def trafilatura_snippets() -> Iterator[Case]:
    root = CORPUS / "trafilatura"
    for url, record in sorted(json.loads((root / "evaldata.json").read_text("utf-8")).items()):
        path = root / "html" / (record["file"] + ".gz")
        if not path.exists():
            continue

        def score(text: str, record: dict = record) -> Counter[str]:
            counts: Counter[str] = Counter()
            for snippet in record.get("with", []):
                counts["tp" if snippet in text else "fn"] += 1
            for snippet in record.get("without", []):
                counts["fp" if snippet in text else "tn"] += 1
            return counts

        yield gzip.decompress(path.read_bytes()), url, score


def readability() -> Iterator[Case]:
    for folder in sorted(p for p in (CORPUS / "readability").iterdir() if p.is_dir()):
        source, expected = folder / "source.html.gz", folder / "expected.html.gz"
        if not (source.exists() and expected.exists()):
            continue
        truth = lxml_html.fromstring(gzip.decompress(expected.read_bytes())).text_content()
        meta = folder / "expected-metadata.json"
        url = "http://fakehost/test/page.html"
        if meta.exists():
            url = json.loads(meta.read_text("utf-8")).get("url") or url
        yield gzip.decompress(source.read_bytes()), url, _token_pr(truth)


def fundus() -> Iterator[Case]:
    for truth_file in sorted((CORPUS / "fundus" / "test_data").glob("*/*.json")):
        versions = json.loads(truth_file.read_text("utf-8"))
        record = versions[sorted(versions)[-1]]
        body = record.get("body") or {}
        parts = list(body.get("summary") or [])
        for section in body.get("sections") or []:
            parts += section.get("headline") or []
            parts += section.get("paragraphs") or []
        pages = sorted(truth_file.parent.glob(truth_file.stem + "_*.html.gz"))
        if not parts or not pages:
            continue
        url = f"https://{truth_file.stem.lower()}.example/article"
        yield gzip.decompress(pages[0].read_bytes()), url, _token_pr("\n".join(parts))


SETS: dict[str, Callable[[], Iterator[Case]]] = {
    "scrapinghub": scrapinghub,
    "trafilatura": trafilatura_snippets,
    "readability": readability,
    "fundus": fundus,
}


def run(cases: list[Case]) -> tuple[str, float]:
    """The set's score line and the CPU seconds `extract_article` took on it."""
    pairs: list[tuple[float, float]] = []
    snippets: Counter[str] = Counter()
    cpu = 0.0
    for body, url, score in cases:
        start = time.process_time()
        article = extraction.extract_article(body, url)
        cpu += time.process_time() - start
        result = score("\n".join(article.paragraphs))
        if isinstance(result, Counter):
            snippets += result
        else:
            pairs.append(result)
    if snippets:
        precision = snippets["tp"] / max(1, snippets["tp"] + snippets["fp"])
        recall = snippets["tp"] / max(1, snippets["tp"] + snippets["fn"])
    else:
        precision = statistics.mean(p for p, _ in pairs)
        recall = statistics.mean(r for _, r in pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"P {precision:.4f} R {recall:.4f} F1 {f1:.4f}", cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    original = trafilatura.bare_extraction
    print(f"extractor {extraction.EXTRACTOR_NAME} {extraction.EXTRACTOR_VERSION}")
    for name in args.sets:
        cases = list(SETS[name]())
        for label, fast in (("default", False), ("fast", True)):
            extraction.trafilatura.bare_extraction = functools.partial(original, fast=fast)
            line, cpu = run(cases)
            print(
                f"{name:12s} n={len(cases):3d} {label:8s} {line}  "
                f"cpu {cpu:5.1f} s ({cpu / len(cases) * 1000:.1f} ms/page)",
                flush=True,
            )
        extraction.trafilatura.bare_extraction = original


if __name__ == "__main__":
    main()
