"""The extracted article: the one shape every later stage (version, diff, change, report) reads.

Kept in its own module, free of Scrapy and SQLAlchemy, so that extraction, diffing,
classification and matching can be tested on plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: zlib level of the response bodies versions keep. Measured on 1240 corpus pages (177 KiB
#: each): level 6 (zlib's default) 3.1 ms and 34.5 KiB a page, level 3 1.4 ms and 38.6 KiB
#: (+12 %), level 1 no faster and +19 %. Any level reads back with `zlib.decompress`.
BODY_COMPRESSION_LEVEL = 3

#: Names of the headline variants we record separately (OUTLETS.md, lesson 2).
HEADLINE_VARIANTS = ("h1", "og:title", "title", "jsonld")


@dataclass(frozen=True)
class ArticleText:
    """One extraction of one article page.

    Every string is already normalised (NFC, collapsed whitespace, straight quotes, plain
    hyphens, no soft hyphens), so equal articles compare equal whatever the page's rendering.
    """

    title: str | None
    """The headline an editor sees: h1, else og:title, else JSON-LD headline, else <title>."""
    paragraphs: tuple[str, ...]
    """Main text, one entry per paragraph or subhead, furniture lines removed."""
    headlines: dict[str, str] = field(default_factory=dict)
    """Headline variants by name (`HEADLINE_VARIANTS`); a missing variant is absent."""
    byline: str | None = None
    published: str | None = None
    """ISO 8601 publication time (JSON-LD first, then meta tags, then htmldate)."""
    modified: str | None = None
    """ISO 8601 last-modified time as the page states it; moving alone is never an edit."""
    language: str | None = None
    """ISO 639-1 code (`en`, `es`, `zh`) from the page or a guess on the text."""
    canonical_url: str | None = None
    """`<link rel="canonical">` when the page gives one."""
    published_guessed: bool = False
    """True when `published` is htmldate's guess from the visible page (no JSON-LD or meta
    stamp). A guess can come from page furniture (a "related news" date), so it is shown but
    never makes a new version or a "dates" change on its own."""
    accessible_for_free: bool | None = None
    """JSON-LD `isAccessibleForFree` (False on metered/paywalled pages); None when unstated."""

    @property
    def text(self) -> str:
        """Paragraphs joined by blank lines: the body as one string."""
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class PageExtraction:
    """What a worker process sends back for one 200 body (picklable).

    Everything CPU-bound about a new body is done where the extraction ran, so the
    recording thread of the crawl only writes rows.
    """

    challenge: bool
    """A bot-challenge or block page: nothing was extracted."""
    article: ArticleText | None = None
    """The extraction; None for a challenge page."""
    fingerprint: str | None = None
    """`fingerprint(article)`."""
    text_hash: str | None = None
    """`text_hash(article)`."""
    compressed_body: bytes | None = None
    """The body as versions store it: zlib, level `BODY_COMPRESSION_LEVEL`."""
