"""CPU cost of recording checks, apart from fetching and extraction (the crawl's writer thread).

The first pass of a crawl writes one version per page; a recheck mostly 304s and a few
edits. This drives `storage.leases.record_leased_checks`, as `RecordPipeline` does, on a
fresh SQLite store: N pages whose bodies are the scrapinghub pages, extracted once before
timing, recorded in batches (first pass), then the same pages again with 10 % edited (a
sentence added) and the rest answering 304. CPU time (`time.process_time`) per check; the
matcher's import happens before timing (no event cites these pages, so nothing is linked).

    python bench/record.py [--pages 1000] [--batch 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage.linking  # noqa: E402, F401  (imported before timing: not the record path)
from crawler.extract.article import PageExtraction  # noqa: E402
from crawler.extract.extraction import extract_page  # noqa: E402
from crawler.extract.normalise import fingerprint, text_hash  # noqa: E402
from crawler.items import FetchedPage  # noqa: E402
from storage.checks import CheckRules  # noqa: E402
from storage.db import open_store  # noqa: E402
from storage.leases import record_leased_checks  # noqa: E402
from storage.repositories import ensure_page, get_or_create_outlet, utcnow  # noqa: E402

SCRAPINGHUB = ROOT / "tests" / "fixtures" / "scrapinghub"
EDIT = "Update: officials confirmed on Tuesday that the figures were revised after a review."


def corpus() -> list[tuple[bytes, PageExtraction]]:
    """The scrapinghub pages with their extraction (done once, before any timing)."""
    pages = []
    for path in sorted(SCRAPINGHUB.rglob("*.htm*")):
        body = path.read_bytes()
        body = gzip.decompress(body) if path.suffix == ".gz" else body
        pages.append((body, extract_page(body, 200, "https://bench.test/a", "text/html")))
    if not pages:
        raise SystemExit(f"no pages under {SCRAPINGHUB}")
    return pages


def fetched(page_id: int, url: str, body: bytes, extraction: PageExtraction) -> FetchedPage:
    """A 200 answer with its extraction, as ExtractPipeline hands it on."""
    return FetchedPage(
        page_id=page_id,
        url=url,
        started_at=utcnow(),
        duration_ms=1.0,
        status=200,
        final_url=url,
        content_type="text/html",
        body=body,
        body_hash=hashlib.sha256(body).hexdigest(),
        article=extraction.article,
        fingerprint=extraction.fingerprint,
        text_hash=extraction.text_hash,
        stored_body=extraction.compressed_body,
        etag=f'"{hashlib.sha256(body).hexdigest()[:12]}"',
    )


def edited(extraction: PageExtraction) -> PageExtraction:
    """The same page with a sentence added after its first paragraph."""
    article = extraction.article
    assert article is not None
    paragraphs = (*article.paragraphs[:1], EDIT, *article.paragraphs[1:])
    article = dataclasses.replace(article, paragraphs=paragraphs)
    return dataclasses.replace(
        extraction, article=article, fingerprint=fingerprint(article), text_hash=text_hash(article)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    pages = [(body, found) for body, found in corpus() if found.article is not None]
    with tempfile.TemporaryDirectory() as folder:
        sessions = open_store(f"sqlite:///{folder}/record.db")
        with sessions.begin() as session:
            urls = [f"https://h{i % 50}.bench.test/p/{i}" for i in range(args.pages)]
            ids = [
                ensure_page(session, url, get_or_create_outlet(session, url[8:], None), "bench").id
                for url in urls
            ]
        first = [
            fetched(pid, url, *pages[i % len(pages)])
            for i, (pid, url) in enumerate(zip(ids, urls, strict=True))
        ]
        recheck = []
        for i, (pid, url) in enumerate(zip(ids, urls, strict=True)):
            body, found = pages[i % len(pages)]
            if i % 10:
                recheck.append(FetchedPage(pid, url, utcnow(), 1.0, status=304, final_url=url))
            else:
                recheck.append(fetched(pid, url, body + b"<!-- edited -->", edited(found)))
        for label, items, day in (("first", first, 0), ("10 % edited", recheck, 1)):
            now = utcnow() + timedelta(days=day)
            started = time.process_time()
            for start in range(0, len(items), args.batch):
                with sessions.begin() as session, session.no_autoflush:
                    batch = items[start : start + args.batch]
                    record_leased_checks(session, batch, now=now, rules=CheckRules())
            cpu = time.process_time() - started
            print(
                f"{label}: {len(items)} checks in batches of {args.batch}: "
                f"{cpu:.2f} s CPU, {cpu / len(items) * 1000:.2f} ms a check"
            )


if __name__ == "__main__":
    main()
