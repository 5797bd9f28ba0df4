"""The revisit policy, the breaker and the digest clock, on plain values.

Expected numbers are worked out by hand from the formulas in scheduler/cadence.py's docstrings
(rate = (weighted changes + prior) / (weighted hours + prior hours); interval = target / rate),
from NewsDiffs' published ladder, and from the calendar.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.breaker import Breaker, BreakerRules, Phase, after_fetches, cooldown, phase
from scheduler.cadence import (
    PageHistory,
    Policy,
    estimate_rate,
    failure_backoff,
    healthy_interval,
    jittered,
    newsdiffs_interval,
    next_check,
    next_delay,
)
from scheduler.digests import digest_trigger, next_digest_at
from scheduler.names import slug_key

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
POLICY = Policy()
H = timedelta(hours=1)
M = timedelta(minutes=1)


def history(*change_hours: float, **kwargs) -> PageHistory:
    return PageHistory(
        watched_since=T0, change_times=tuple(T0 + H * h for h in change_hours), **kwargs
    )


# --- the ladder we compare with ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        (M * 5, M * 15),
        (H * 2.9, M * 15),
        (H * 3, H),
        (H * 23, H),
        (H * 24, H * 3),
        (H * 24 * 6.9, H * 3),
        (H * 24 * 7, H * 72),
        (H * 24 * 29, H * 72),
        (H * 24 * 30, H * 24 * 30),
    ],
)
def test_newsdiffs_ladder(quiet: timedelta, expected: timedelta) -> None:
    assert newsdiffs_interval(quiet) == expected


# --- the adaptive interval ---------------------------------------------------------------------


def test_a_brand_new_page_is_checked_at_the_prior_rate() -> None:
    # No observation yet: rate = prior 1 change / 2 h; interval = 0.2 / 0.5 per h = 24 min.
    assert healthy_interval(history(), T0, POLICY) == M * 24


def test_quiet_pages_back_off_and_stay_within_bounds() -> None:
    page = history()
    intervals = [healthy_interval(page, T0 + H * h, POLICY) for h in (0.5, 3, 24, 24 * 7, 24 * 400)]
    assert intervals == sorted(intervals) and len(set(intervals)) == len(intervals)
    assert intervals[-1] == POLICY.max_interval
    # A day of silence already costs far fewer checks than the ladder's hourly rung…
    assert intervals[2] > H
    # …while a page edited 10 minutes ago is watched closely again.
    fresh = healthy_interval(history(23.8), T0 + H * 24, POLICY)
    assert POLICY.min_interval <= fresh <= M * 30


def test_a_page_that_keeps_changing_is_checked_more_often() -> None:
    now = T0 + H * 6
    busy = history(*[k * 0.5 for k in range(1, 12)])  # every 30 min for 6 h
    calm = history(1.0, 5.5)  # twice in 6 h
    assert healthy_interval(busy, now, POLICY) < healthy_interval(calm, now, POLICY)
    # rate ≈ (3.3 decayed changes + 1) / (1.9 decayed hours + 2) ≈ 1.1 per h: 0.2 / 1.1 h ≈ 11 min
    assert M * 10 <= healthy_interval(busy, now, POLICY) <= M * 12


def test_rate_estimate_follows_the_pages_own_history() -> None:
    now = T0 + H * 6
    half_hourly = estimate_rate(history(*[k * 0.5 for k in range(1, 12)]), now, POLICY)
    six_hourly = estimate_rate(history(6.0 - 0.01), now, POLICY)
    # The prior (1 per 2 h) pulls a 2-per-hour page down, but not by half.
    assert 1.0 < half_hourly < 2.0
    assert six_hourly < half_hourly / 2


def test_an_article_cited_days_after_publication_starts_out_quiet() -> None:
    old = history(stated_date=T0 - H * 72)
    assert healthy_interval(old, T0, POLICY) > healthy_interval(history(), T0, POLICY) * 10


def test_time_scale_compresses_every_duration_alike() -> None:
    scale = 0.001
    fast = Policy(time_scale=scale)
    real = history(1.0, 2.0)
    compressed = PageHistory(
        watched_since=T0, change_times=tuple(T0 + (t - T0) * scale for t in real.change_times)
    )
    expected = healthy_interval(real, T0 + H * 5, POLICY) * scale
    got = healthy_interval(compressed, T0 + H * 5 * scale, fast)
    assert abs(got - expected) < timedelta(milliseconds=1)


# --- failures, removals, jitter ------------------------------------------------------------------


def test_failure_backoff_doubles_up_to_its_cap() -> None:
    delays = [failure_backoff(n, POLICY) for n in range(0, 8)]
    assert delays[:5] == [timedelta(0), M * 15, M * 30, H, H * 2]
    assert delays[-1] == POLICY.backoff_max == H * 12


def test_a_failing_page_is_never_checked_sooner_than_a_healthy_one() -> None:
    now = T0 + H * 24 * 10
    healthy = next_delay(history(), now, POLICY)
    for failures in range(1, 10):
        failing = next_delay(history(consecutive_failures=failures), now, POLICY)
        assert failing >= healthy
    young = next_delay(history(consecutive_failures=4), T0 + M * 5, POLICY)
    assert young == H * 2  # the backoff, not the young page's 24 min


def test_removed_and_pending_pages() -> None:
    now = T0 + H * 2
    assert next_delay(history(state="removed"), now, POLICY) == timedelta(days=1)
    assert next_delay(history(state="gone_pending"), now, POLICY) == POLICY.min_interval


def test_jitter_stays_within_its_bounds_and_varies() -> None:
    rng = random.Random(1)
    delays = [jittered(H, 0.1, rng) for _ in range(500)]
    assert all(M * 54 <= d <= M * 66 for d in delays)
    assert max(delays) - min(delays) > M * 10  # spread over most of the ±6 min band
    checks = {next_check(history(), T0, POLICY, rng) for _ in range(20)}
    assert len(checks) == 20 and all(c > T0 for c in checks)


# --- the breaker ---------------------------------------------------------------------------------

RULES = BreakerRules(threshold=3, cooldown=M * 10, max_cooldown=M * 35)


def test_breaker_opens_after_threshold_failures_only() -> None:
    assert after_fetches(None, [True, True], T0, RULES) is None
    assert after_fetches(None, [True, True, False], T0, RULES) is None
    opened = after_fetches(None, [True, True, True, False], T0, RULES)
    assert opened == Breaker(until=T0 + M * 10, trips=1)
    assert phase(opened, T0 + M * 5) == Phase.OPEN
    assert phase(opened, T0 + M * 10) == Phase.HALF_OPEN
    assert phase(None, T0) == Phase.CLOSED


def test_half_open_probe_closes_or_reopens_for_longer() -> None:
    tripped = Breaker(until=T0, trips=1)
    later = T0 + M
    assert after_fetches(tripped, [False, True, True, True], later, RULES) is None
    again = after_fetches(tripped, [True, True, True], later, RULES)
    assert again == Breaker(until=later + M * 20, trips=2)
    # While still cooling down, a late crawl's failures change nothing.
    cooling = Breaker(until=T0 + M * 5, trips=1)
    assert after_fetches(cooling, [True] * 5, T0, RULES) is cooling


def test_cooldown_doubles_and_caps() -> None:
    assert [cooldown(n, RULES) for n in (1, 2, 3, 4)] == [M * 10, M * 20, M * 35, M * 35]


# --- the digest clock ----------------------------------------------------------------------------


def test_daily_digest_times() -> None:
    daily = digest_trigger("0 7 * * *")
    assert next_digest_at(daily, T0) == datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    sent = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    assert next_digest_at(daily, sent) == datetime(2026, 5, 2, 7, 0, tzinfo=UTC)
    # Down for four days: the next digest is simply due (one digest for the whole gap).
    assert next_digest_at(daily, sent) < datetime(2026, 5, 5, 12, 0, tzinfo=UTC)


def test_six_field_cron_has_seconds_first_and_weekdays_by_name() -> None:
    every_five = digest_trigger("*/5 * * * * *")
    assert next_digest_at(every_five, T0) == T0 + timedelta(seconds=5)
    mondays = digest_trigger("30 8 * * mon", "Europe/Madrid")
    got = next_digest_at(mondays, T0)  # 2026-05-01 is a Friday
    assert got is not None and got.astimezone(UTC) == datetime(2026, 5, 4, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        digest_trigger("every morning")


def test_slug_key_fits_the_run_owner_column() -> None:
    assert slug_key("short-slug") == "short-slug"
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"
    assert len(slug_key(long_a)) == 64 and slug_key(long_a) != slug_key(long_b)


def test_a_guessed_date_does_not_drive_the_cadence() -> None:
    from types import SimpleNamespace

    from scheduler.state import history_from_rows

    page = SimpleNamespace(first_seen_at=T0, state="ok", consecutive_failures=0)
    # A first version whose only date is htmldate's guess from a "Copyright 2026" footer.
    guessed = history_from_rows([(T0, None, "2026-01-01", True)], page)  # type: ignore[arg-type]
    assert guessed.stated_date is None
    assert healthy_interval(guessed, T0, POLICY) == M * 24  # the young-article cadence
    # The same date stated by the page itself (JSON-LD) does count: months quiet.
    stated = history_from_rows([(T0, None, "2026-01-01", False)], page)  # type: ignore[arg-type]
    assert stated.stated_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert healthy_interval(stated, T0, POLICY) > H * 24
    # A stated modified date wins over a guessed published one.
    rows = [(T0, "2026-04-28T06:00:00+00:00", "2026-01-01", True)]
    modified = history_from_rows(rows, page)  # type: ignore[arg-type]
    assert modified.stated_date == T0 - H * 72
    # No version yet: watched since the page was put under watch, the prior rate.
    new = history_from_rows([], page)  # type: ignore[arg-type]
    assert new.stated_date is None and healthy_interval(new, T0, POLICY) == M * 24
