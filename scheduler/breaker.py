"""Per-outlet circuit breaker, on plain values: one outlet's outage must not cost the others.

After `threshold` failed fetches in a row on an outlet's pages the breaker opens for a
cool-down (doubled per trip, capped); the outlet's due pages wait, every other outlet goes
on. When the cool-down is over the breaker is half-open: one page is tried; success closes
it, another failure opens it again for longer. The state is stored by the daemon as a
`lease` row (`breaker:<host>`, until = end of the cool-down, owner = trip count), so it
survives restarts and `watchdesk status` can show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Phase(StrEnum):
    """Where an outlet's breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerRules:
    """The breaker's numbers."""

    threshold: int = 5
    """Failed fetches in a row (newest first, over the outlet's pages) that open it."""
    cooldown: timedelta = timedelta(minutes=30)
    """First cool-down; each further trip doubles it…"""
    max_cooldown: timedelta = timedelta(hours=12)
    """…up to this."""


@dataclass(frozen=True)
class Breaker:
    """A tripped breaker: open until `until`, tripped `trips` times in a row."""

    until: datetime
    trips: int


def phase(breaker: Breaker | None, now: datetime) -> Phase:
    """Closed (no breaker), open (cooling down) or half-open (cool-down over)."""
    if breaker is None:
        return Phase.CLOSED
    return Phase.OPEN if now < breaker.until else Phase.HALF_OPEN


def cooldown(trips: int, rules: BreakerRules) -> timedelta:
    """The cool-down of the `trips`-th trip in a row."""
    return min(rules.cooldown * 2 ** max(trips - 1, 0), rules.max_cooldown)


def tripped(recent_failed: Sequence[bool], threshold: int) -> bool:
    """True when the newest `threshold` fetches (newest first) all failed."""
    return len(recent_failed) >= threshold and all(recent_failed[:threshold])


def after_fetches(
    breaker: Breaker | None, recent_failed: Sequence[bool], now: datetime, rules: BreakerRules
) -> Breaker | None:
    """The breaker after an outlet's crawl.

    Args:
        breaker: its state before the crawl (None: closed).
        recent_failed: whether each of the outlet's newest fetches failed, newest first.
        now: the end of the crawl.
        rules: threshold and cool-downs.

    Returns:
        None when it is (or goes back to) closed, else the open breaker.
    """
    if recent_failed and not recent_failed[0]:
        return None  # the newest fetch succeeded: the outlet answers again
    was_half_open = phase(breaker, now) == Phase.HALF_OPEN
    if breaker is not None and not was_half_open:
        return breaker  # still cooling down (a crawl started before it opened)
    if was_half_open or tripped(recent_failed, rules.threshold):
        trips = (breaker.trips if breaker else 0) + 1
        return Breaker(until=now + cooldown(trips, rules), trips=trips)
    return None
