"""Items the spiders yield: one per check of a watched page, whatever its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.extract.article import ArticleText


@dataclass
class FetchedPage:
    """The raw result of checking one watched page; pipelines turn it into rows."""

    page_id: int
    """Primary key of the watched page (`storage.models.Page`)."""
    url: str
    """The watched URL as stored (real URL, never the replay address)."""
    started_at: datetime
    """UTC time the first request for this check was scheduled."""
    duration_ms: float
    status: int | None = None
    """Final HTTP status; None when no response came (see `error`)."""
    error: str | None = None
    """Network-level failure after retries: "TimeoutError", "ConnectionLost", …"""
    final_url: str = ""
    """URL after redirects (equal to `url` when none)."""
    redirects: list[str] = field(default_factory=list)
    content_type: str = ""
    retry_after: float | None = None
    """Seconds the server asked us to wait (`Retry-After` on a 429 or 5xx answer); the
    page's next check is not before then (`scheduler.cadence.deferred`)."""
    etag: str | None = None
    last_modified: str | None = None
    body: bytes | None = None
    """Response body for 2xx responses; None otherwise."""
    body_hash: str | None = None
    """sha256 of `body`; equal to the stored one means the same bytes, no extraction needed."""
    same_body: bool = False
    """The body's hash equals the one stored for the page: the same bytes as last time."""
    changed_body: bool = False
    """The page has a stored body and this one differs: likely an edit (the crawl warms its
    matcher process at the first, `crawler.matching.process.MatcherProcess.warm`)."""
    article: ArticleText | None = None
    """Set by ExtractPipeline for a new body."""
    challenge: bool = False
    """Set by ExtractPipeline when the body is a bot-protection page."""
    fingerprint: str | None = None
    """`fingerprint(article)`, computed with the extraction (in its worker process)."""
    text_hash: str | None = None
    """`text_hash(article)`, likewise."""
    stored_body: bytes | None = None
    """`body` compressed as versions store it, likewise."""
    discovered: bool = False
    """The page is a new article found by discovery: FollowupPipeline scores it."""
    lease: tuple[str, int] | None = None
    """(owner, token) of the page lease the check was claimed under; the check is recorded
    only while that lease holds (`storage.leases.record_leased_checks`). None: not fenced."""
