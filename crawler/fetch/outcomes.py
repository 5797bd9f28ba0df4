"""The fetch state machine: what one check of a watched page means.

Pure policy, kept apart from the spider and the store (as Scrapy keeps `RFC2616Policy` apart
from its cache storage) so that every case is a plain-value test. The one rule that matters
most: a failure to fetch is never evidence about the article. 5xx, 429, timeouts, resets,
bot challenges, bodies that collapse to a teaser and redirects to a login, subscribe or
consent page or to another site are *transient*; only a 404/410 or a redirect to the same
site's home page or a section front, seen on consecutive checks spaced in time, removes an
article. A redirect that keeps the article's slug (`/2026/05/07/slug/` -> `/slug/`) is a
move: the page served there is judged like any other answer.

Reads: WATCHDESK_REMOVAL_CONFIRMATIONS and WATCHDESK_CONFIRM_AFTER (through the
`confirmations` and `confirm_after` arguments), WATCHDESK_UNCONDITIONAL_AFTER (through
`full_fetch_due`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit


class PageState(StrEnum):
    """Where a watched page stands between checks."""

    NEW = "new"  # never fetched successfully
    OK = "ok"
    FAILING = "failing"  # last check(s) failed transiently; the baseline is untouched
    GONE_PENDING = "gone_pending"  # looked gone once; needs confirmation
    REMOVED = "removed"  # gone on consecutive checks


class Outcome(StrEnum):
    """What one check found (stored on the fetch row, counted in stats)."""

    NEW_VERSION = "new_version"  # first version, or a different article than the last
    UNCHANGED = "unchanged"  # 200 with the same article
    NOT_MODIFIED = "not_modified"  # 304: checked, unchanged, no extraction
    TRANSIENT = "transient"  # could not tell: retry later, alert nobody
    GONE_SUSPECTED = "gone_suspected"  # 404/410/home redirect, not yet confirmed
    REMOVED = "removed"  # removal confirmed now
    STILL_REMOVED = "still_removed"
    RESTORED = "restored"  # back after a confirmed removal
    SUSPECT = "suspect"  # a 200 that may not be the article: held until a later check agrees


#: Statuses that say "try again later" rather than anything about the article.
TRANSIENT_STATUSES = frozenset({403, 408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
GONE_STATUSES = frozenset({404, 410})

_HOME_PATHS = frozenset({"", "/", "/index.html", "/index.php", "/default.aspx", "/home"})
#: Where a site sends a reader it will not show the article to: sign-in, subscription and
#: consent walls. Matched against the redirect target's host and path, by whole word.
_WALL = re.compile(
    r"(^|[/.?=&])(log-?in|sign-?in|signon|auth|account|accounts|register|registro|"
    r"subscribe|subscription|subscriptions|suscripci[oó]n|suscribete|paywall|"
    r"consent|privacy|gdpr|cookies?|acceso)([/.?=&]|$)",
    re.I,
)


class Redirect(StrEnum):
    """What a redirect of an article URL says about the article."""

    HOME = "home"  # the same site's home page or a section front: the article is gone
    WALL = "wall"  # a login, subscribe or consent page, or another site: could not tell
    MOVE = "move"  # the same site, the slug kept: the article moved
    OTHER = "other"  # another page of the same site: judge what it serves


@dataclass(frozen=True)
class Observation:
    """What a fetch produced, reduced to the facts the policy needs."""

    status: int | None
    error: str | None = None
    """Network-level error (timeout, reset, DNS, too large); None when a response came."""
    requested_url: str = ""
    final_url: str = ""
    is_html: bool = True
    challenge: bool = False
    """The body is a bot-protection / interstitial page."""
    truncated: bool = False
    """The article collapsed to a teaser compared with the last version."""
    empty: bool = False
    """A 200 whose extraction found no article text."""
    same_article: bool | None = None
    """The extracted article equals the latest stored version (None: not compared)."""
    now: datetime | None = None
    """When the check happened (None: removal confirmations are not spaced in time)."""
    retry_after: float | None = None
    """Seconds the server asked us to wait (`Retry-After` on a 429 or 5xx)."""


@dataclass(frozen=True)
class PageMemory:
    """What the store remembers of the page before this check."""

    state: PageState = PageState.NEW
    consecutive_failures: int = 0
    consecutive_gone: int = 0
    has_version: bool = False
    gone_since: datetime | None = None
    """When the first check of the current "gone" run saw the page gone."""


@dataclass(frozen=True)
class Decision:
    """The outcome of the check and the page's memory after it."""

    outcome: Outcome
    memory: PageMemory
    store_version: bool = False
    reason: str = ""


def redirect_kind(requested_url: str, final_url: str) -> Redirect | None:
    """What a redirect from an article URL means; None when there was no redirect.

    Order matters: a wall is recognised before a home page (`/login` is one segment deep
    like a section front), and a move (the last path segment, the slug, kept) before a
    section front (`/slug/` is one segment deep too).
    """
    if not final_url or final_url == requested_url:
        return None
    before, after = urlsplit(requested_url), urlsplit(final_url)
    if _WALL.search(f"{after.hostname or ''}{after.path}?{after.query}"):
        return Redirect.WALL
    if not _same_site(before.hostname or "", after.hostname or ""):
        return Redirect.WALL
    segments_before = [p for p in before.path.split("/") if p]
    segments_after = [p for p in after.path.split("/") if p]
    if after.path in _HOME_PATHS:
        return Redirect.OTHER if before.path in _HOME_PATHS else Redirect.HOME
    if segments_before and segments_after and segments_before[-1] == segments_after[-1]:
        return Redirect.MOVE
    # /ip/2026/05/07/slug/ -> /ip/ : a one-segment landing page is a section front.
    if len(segments_before) >= 2 and len(segments_after) <= 1 and not after.query:
        return Redirect.HOME
    return Redirect.OTHER


def _same_site(host: str, other: str) -> bool:
    """Hosts of one site: equal but for `www.`, or one a subdomain of the other."""
    a, b = host.lower().removeprefix("www."), other.lower().removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def redirected_home(requested_url: str, final_url: str) -> bool:
    """True when an article URL ended on its site's home page or a section front."""
    return redirect_kind(requested_url, final_url) == Redirect.HOME


def full_fetch_due(last_full_fetch: datetime | None, now: datetime, after: float | None) -> bool:
    """Whether the next check must go without validators.

    A server whose ETag or Last-Modified never changes answers 304 for ever and hides every
    edit; so once `after` seconds have passed since the last 200, validators are dropped
    for one check. None turns it off; a page never fully fetched is due.
    """
    if after is None:
        return False
    return last_full_fetch is None or (now - last_full_fetch).total_seconds() >= after


def failure_reason(obs: Observation) -> str | None:
    """Why no usable answer came (network error, 5xx, 429, other 4xx), or None."""
    if obs.error:
        return obs.error
    if obs.status is None:
        return "no response"
    if obs.status in TRANSIENT_STATUSES or obs.status >= 500:
        if obs.retry_after:
            return f"HTTP {obs.status}, deferred by Retry-After: {obs.retry_after:g} s"
        return f"HTTP {obs.status}"
    if obs.status >= 400 and obs.status not in GONE_STATUSES:
        return f"HTTP {obs.status}"
    return None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """`Retry-After` in seconds from `now`: delta-seconds or an HTTP date (RFC 9110 10.2.3);
    None when absent or unreadable, 0 for a date already past."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max((moment - now).total_seconds(), 0.0)


def content_reason(obs: Observation) -> str | None:
    """Why a 200 body tells nothing about the article (not HTML, a challenge, a teaser,
    no text), or None."""
    if not obs.is_html:
        return "not an HTML page"
    if obs.challenge:
        return "bot-protection page"
    if obs.truncated:
        return "body collapsed to a teaser"
    if obs.empty:
        return "no article text found"
    return None


def decide(
    obs: Observation, memory: PageMemory, confirmations: int = 2, confirm_after: float = 0.0
) -> Decision:
    """Apply the policy to one check.

    Args:
        obs: what the fetch produced.
        memory: the page's state before the check.
        confirmations: consecutive "gone" checks needed to confirm a removal.
        confirm_after: seconds the confirming "gone" check must come after the first one
            (only when `obs.now` is known): two checks a minute apart, in one manual crawl
            after another, are one outage, not a removal.

    Returns:
        The outcome, the new page memory and whether to store the extracted article.
    """
    reason = failure_reason(obs)
    if reason is not None:
        return _transient(memory, reason)
    redirect = redirect_kind(obs.requested_url, obs.final_url)
    if redirect == Redirect.WALL:
        return _transient(memory, "redirected to a login, subscribe or consent page or away")
    # Before looking at the body: the home page a missing article redirects to has no
    # article text, and must read as "gone", not as "empty".
    if obs.status in GONE_STATUSES or redirect == Redirect.HOME:
        return _gone(memory, confirmations, obs.now, confirm_after)
    if obs.status == 304:
        return _back(memory, Outcome.NOT_MODIFIED, store=False)
    reason = content_reason(obs)
    if reason is not None:
        return _transient(memory, reason)
    moved = f"moved to {obs.final_url}" if redirect == Redirect.MOVE else ""
    if obs.same_article:
        return _back(memory, Outcome.UNCHANGED, store=False, reason=moved)
    return _back(memory, Outcome.NEW_VERSION, store=True, reason=moved)


def _transient(memory: PageMemory, reason: str) -> Decision:
    # A removed page that now errors stays removed; otherwise the baseline is untouched and
    # only the failure counter moves. The gone counter is kept: an error is not a check.
    state = memory.state if memory.state == PageState.REMOVED else PageState.FAILING
    new = replace(memory, state=state, consecutive_failures=memory.consecutive_failures + 1)
    return Decision(Outcome.TRANSIENT, new, reason=reason)


def _gone(
    memory: PageMemory, confirmations: int, now: datetime | None, confirm_after: float
) -> Decision:
    if memory.state == PageState.REMOVED:
        return Decision(Outcome.STILL_REMOVED, replace(memory, consecutive_failures=0))
    gone = memory.consecutive_gone + 1
    since = memory.gone_since if memory.consecutive_gone else now
    waited = now is None or since is None or (now - since).total_seconds() >= confirm_after
    if gone >= confirmations and memory.has_version and waited:
        new = PageMemory(PageState.REMOVED, 0, gone, memory.has_version, since)
        return Decision(Outcome.REMOVED, new, reason=f"gone on {gone} consecutive checks")
    new = PageMemory(PageState.GONE_PENDING, 0, gone, memory.has_version, since)
    why = "gone; awaiting confirmation" if gone < confirmations else "gone; confirmed later"
    return Decision(Outcome.GONE_SUSPECTED, new, reason=why)


def _back(memory: PageMemory, outcome: Outcome, *, store: bool, reason: str = "") -> Decision:
    has_version = memory.has_version or store
    new = PageMemory(PageState.OK, 0, 0, has_version)
    if memory.state == PageState.REMOVED:
        return Decision(Outcome.RESTORED, new, store_version=store, reason="back after removal")
    return Decision(outcome, new, store_version=store, reason=reason)
