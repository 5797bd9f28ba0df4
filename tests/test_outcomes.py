"""The fetch state machine, one named case per row of tests/cases/outcomes.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from crawler.fetch.outcomes import (
    Observation,
    PageMemory,
    PageState,
    Redirect,
    decide,
    full_fetch_due,
    redirect_kind,
    redirected_home,
)

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "outcomes.yaml").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_outcome_case(name: str) -> None:
    case = CASES[name]
    obs = {"requested_url": "https://x.test/a/1", "final_url": "https://x.test/a/1", **case["obs"]}
    state, failures, gone, has_version = case["memory"]
    memory = PageMemory(PageState(state), failures, gone, has_version)
    decision = decide(Observation(**obs), memory)
    expect = case["expect"]
    assert decision.outcome.value == expect["outcome"]
    assert decision.memory.state.value == expect.get("state", decision.memory.state.value)
    assert decision.store_version == expect.get("store", decision.store_version)
    if "failures" in expect:
        assert decision.memory.consecutive_failures == expect["failures"]
    if "gone" in expect:
        assert decision.memory.consecutive_gone == expect["gone"]


def test_transient_never_stores_or_removes() -> None:
    """Whatever the memory, a failed fetch neither stores a version nor confirms a removal."""
    for state in PageState:
        for status in (500, 502, 503, 504, 429, 403, None):
            memory = PageMemory(state, 3, 1, True)
            decision = decide(
                Observation(status=status, error=None if status else "Timeout"), memory
            )
            assert not decision.store_version
            assert decision.outcome.value == "transient"
            assert decision.memory.consecutive_gone == 1


@pytest.mark.parametrize(
    ("before", "after", "home"),
    [
        ("https://a.test/News/7133", "https://a.test/", True),
        ("https://a.test/News/7133", "https://a.test/News/7134", False),
        ("https://a.test/ip/2026/05/07/x/", "https://a.test/ip/", True),
        ("https://a.test/en/news/1", "https://a.test/news/1", False),
        ("https://a.test/", "https://a.test/", False),
        ("https://a.test/x/1", "https://a.test/search?q=1", False),
    ],
)
def test_redirected_home(before: str, after: str, home: bool) -> None:
    assert redirected_home(before, after) is home


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("https://a.test/2026/05/07/slug/", "https://a.test/slug/", Redirect.MOVE),
        ("https://a.test/politics/2026/05/07/x/", "https://a.test/politics/", Redirect.HOME),
        ("https://a.test/news/x", "https://www.a.test/", Redirect.HOME),
        ("https://a.test/news/x", "https://a.test/login/", Redirect.WALL),
        ("https://a.test/news/x", "https://a.test/account/login?next=/news/x", Redirect.WALL),
        ("https://a.test/news/x", "https://a.test/subscribe", Redirect.WALL),
        ("https://a.test/news/x", "https://consent.a.test/?continue=x", Redirect.WALL),
        ("https://a.test/news/x", "https://b.test/", Redirect.WALL),
        ("https://a.test/news/accounts-of-war", "https://a.test/news/2", Redirect.OTHER),
        ("https://a.test/news/x", "https://a.test/news/x", None),
    ],
)
def test_redirect_kind(before: str, after: str, kind: Redirect | None) -> None:
    assert redirect_kind(before, after) == kind


def test_removal_confirmation_waits_confirm_after() -> None:
    first = datetime(2026, 5, 8, 12, tzinfo=UTC)
    memory = PageMemory(PageState.OK, 0, 0, True)
    gone = decide(Observation(status=404, now=first), memory, 2, 3600).memory
    assert gone.gone_since == first
    soon = decide(Observation(status=404, now=first + timedelta(minutes=5)), gone, 2, 3600)
    assert soon.outcome.value == "gone_suspected" and soon.memory.gone_since == first
    later = decide(Observation(status=404, now=first + timedelta(hours=1)), soon.memory, 2, 3600)
    assert later.outcome.value == "removed"


def test_full_fetch_due() -> None:
    now = datetime(2026, 5, 8, 12, tzinfo=UTC)
    assert full_fetch_due(None, now, 60)
    assert not full_fetch_due(now - timedelta(seconds=59), now, 60)
    assert full_fetch_due(now - timedelta(seconds=60), now, 60)
    assert not full_fetch_due(None, now, None)
