"""When to check a watched page next: the adaptive revisit policy, on plain values.

News articles change in bursts while they are young and then go quiet; a few "live" pages
change every half hour for a day; many never change at all. NewsDiffs' ladder spaces checks by
the time since the last change alone (15 min, 1 h, 3 h, 3 days, 30 days). This policy keeps
the ladder's idea — the longer a page has been quiet, the longer it will stay quiet — and adds
the page's own history: a Poisson change rate estimated from the changes we saw, with recent
changes weighing more (a Gamma prior keeps a page with no history from looking static), and a
revisit interval that expects a fixed share of a change per check. Failures back off
exponentially and never make a page checked more often than when healthy.

Everything here is pure (no clock, no database, no randomness except the `rng` passed in), so
the same functions drive the daemon, `bench/revisit_sim.py` and the unit tests. The
`time_scale` of a `Policy` compresses time for tests: 0.001 makes a 15-minute interval 0.9 s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = 3600.0


@dataclass(frozen=True)
class Policy:
    """The revisit policy's numbers (README "Revisit policy" gives the reasons)."""

    min_interval: timedelta = timedelta(minutes=10)
    """Never check a page more often than this (politeness; a 304 still costs the outlet)."""
    max_interval: timedelta = timedelta(days=30)
    """Even a page quiet for months is looked at monthly (NewsDiffs' last rung)."""
    prior_changes: float = 1.0
    """Gamma prior shape: one change…"""
    prior_hours: float = 2.0
    """…per this many hours of observation, for a page we know nothing about."""
    target_changes: float = 0.2
    """Expected changes between two checks: lower checks more and misses fewer edits."""
    memory_share: float = 0.5
    """The rate estimate forgets with a time constant of this share of the quiet time…"""
    memory_floor: timedelta = timedelta(hours=2)
    """…but never shorter than this, so a burst is not forgotten within minutes."""
    removed_interval: timedelta = timedelta(days=1)
    """Removed pages are looked at daily, to notice a restoration."""
    backoff_base: timedelta = timedelta(minutes=15)
    """First retry delay after a transient failure; doubled per further failure…"""
    backoff_max: timedelta = timedelta(hours=12)
    """…up to this."""
    jitter: float = 0.1
    """Each delay is multiplied by a uniform factor in [1 - jitter, 1 + jitter]."""
    time_scale: float = 1.0
    """1.0 in production; tests compress every duration by this factor."""


@dataclass(frozen=True)
class PageHistory:
    """What the policy needs to know about one page."""

    watched_since: datetime
    """When we first saw the page (its first version, or when it was put under watch)."""
    change_times: tuple[datetime, ...] = ()
    """When each later version was detected (not the first one: it is no change)."""
    stated_date: datetime | None = None
    """The article's own modified (else published) date, when it states one: a page cited
    three days after publication starts out three days quiet, not brand new."""
    state: str = "ok"
    consecutive_failures: int = 0


# --- the change rate ---------------------------------------------------------------------------


def _hours(delta: timedelta, policy: Policy) -> float:
    """A real duration in policy hours (stretched back by the time scale)."""
    return max(delta.total_seconds(), 0.0) / HOUR / policy.time_scale


def quiet_since(history: PageHistory) -> datetime:
    """The last moment the page is known to have changed."""
    if history.change_times:
        return max(history.change_times)
    if history.stated_date is not None and history.stated_date < history.watched_since:
        return history.stated_date
    return history.watched_since


def estimate_rate(history: PageHistory, now: datetime, policy: Policy) -> float:
    """Changes per (policy) hour: a Gamma-Poisson estimate with exponential forgetting.

    Each seen change counts exp(-age / memory) and so does each observed hour; the memory is
    `memory_share` of the quiet time, so a page fresh from an edit is judged by its recent
    burst, and one quiet for days by its long record. Time the page itself says it was
    unchanged (before we watched) counts as observed.
    """
    quiet = _hours(now - quiet_since(history), policy)
    memory = max(policy.memory_floor.total_seconds() / HOUR, policy.memory_share * quiet)
    changes = sum(math.exp(-_hours(now - t, policy) / memory) for t in history.change_times)
    start = min(history.watched_since, quiet_since(history))
    observed = _hours(now - start, policy)
    exposure = memory * (1.0 - math.exp(-observed / memory))
    return (changes + policy.prior_changes) / (exposure + policy.prior_hours)


def healthy_interval(history: PageHistory, now: datetime, policy: Policy) -> timedelta:
    """The interval that expects `target_changes` changes, within the policy's bounds."""
    hours = policy.target_changes / estimate_rate(history, now, policy)
    low, high = policy.min_interval / timedelta(hours=1), policy.max_interval / timedelta(hours=1)
    return _real(min(max(hours, low), high), policy)


def _real(hours: float, policy: Policy) -> timedelta:
    """Policy hours as a real duration (compressed by the time scale)."""
    return timedelta(hours=hours * policy.time_scale)


# --- the next check ------------------------------------------------------------------------------


def failure_backoff(failures: int, policy: Policy) -> timedelta:
    """Delay after `failures` transient failures in a row: base, 2 x base, 4 x base… capped."""
    if failures <= 0:
        return timedelta(0)
    hours = policy.backoff_base / timedelta(hours=1) * 2.0 ** min(failures - 1, 30)
    return _real(min(hours, policy.backoff_max / timedelta(hours=1)), policy)


def next_delay(history: PageHistory, now: datetime, policy: Policy) -> timedelta:
    """How long until the page's next check, before jitter.

    Removed pages wait `removed_interval`; a page awaiting removal confirmation is checked
    again at the shortest interval; a failing page waits the longer of its healthy interval
    and its backoff, so failures never bring a check forward.
    """
    if history.state == "removed":
        return _real(policy.removed_interval / timedelta(hours=1), policy)
    if history.state == "gone_pending":
        return _real(policy.min_interval / timedelta(hours=1), policy)
    healthy = healthy_interval(history, now, policy)
    return max(healthy, failure_backoff(history.consecutive_failures, policy))


def jittered(delay: timedelta, fraction: float, rng: random.Random) -> timedelta:
    """`delay` times a uniform factor in [1 - fraction, 1 + fraction]: no clockwork pattern,
    and pages added together drift apart instead of always arriving in one batch."""
    return delay * rng.uniform(1.0 - fraction, 1.0 + fraction)


def next_check(history: PageHistory, now: datetime, policy: Policy, rng: random.Random) -> datetime:
    """The time of the page's next check (jitter included).

    Args:
        history: the page's schedule-relevant history.
        now: the time of the check just recorded.
        policy: the policy's numbers.
        rng: the randomness for the jitter (seeded in tests and simulations).

    Returns:
        An aware datetime after `now`.
    """
    return now + jittered(next_delay(history, now, policy), policy.jitter, rng)


def deferred(due: datetime, now: datetime, retry_after: float | None) -> datetime:
    """`due`, or later when the server asked us not to come back before `retry_after`
    seconds (`Retry-After`): a server's explicit wait wins over the policy, never shortens it."""
    if not retry_after:
        return due
    return max(due, now + timedelta(seconds=retry_after))


# --- baselines (for the simulation and the README's comparison) ----------------------------------


def newsdiffs_interval(quiet: timedelta) -> timedelta:
    """NewsDiffs' ladder (`get_update_delay`): the delay by time since the last change."""
    if quiet < timedelta(hours=3):
        return timedelta(minutes=15)
    if quiet < timedelta(days=1):
        return timedelta(hours=1)
    if quiet < timedelta(days=7):
        return timedelta(hours=3)
    if quiet < timedelta(days=30):
        return timedelta(days=3)
    return timedelta(days=30)
