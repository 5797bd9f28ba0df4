"""Revisit policy simulation: adaptive cadence vs the NewsDiffs ladder vs fixed intervals.

Synthetic pages follow a news-like edit process (seeded, so runs repeat):
  static      never edited after publication
  news        a burst of edits in the first hours, then rare late corrections (each may
              bring a small burst of its own)
  developing  a first burst, then a second one on day 1-3 (the story moves on)
  live        a live page edited every ~30 min for 12-72 h, then rarely
Every policy watches each page from publication for `--days` days, in closed loop: a check
sees whether the page changed since the last check, and the adaptive policy learns only from
what its checks saw. Per policy: requests per page-day, mean and p90 time a new version went
undetected, and the share of versions never seen because a later edit overwrote them.

    python bench/revisit_sim.py [--pages 1500] [--days 30] [--seed 7] [--append]
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler.cadence import (  # noqa: E402
    PageHistory,
    Policy,
    jittered,
    newsdiffs_interval,
    next_delay,
)

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Revisit policy simulation"
EPOCH = datetime(2026, 5, 1, tzinfo=UTC)
#: Share of each page kind (a cited-article mix: most pages barely change).
MIX = (("static", 0.35), ("news", 0.45), ("developing", 0.12), ("live", 0.08))

#: A policy: (times of the changes its checks saw, now, rng) -> hours to the next check.
#: It never sees the page kind nor the true edit times, only its own observations.
Delay = Callable[[list[float], float, random.Random], float]


# --- the synthetic change process --------------------------------------------------------------


def _burst(rng: random.Random, start: float, count: int, mean_gap: float) -> list[float]:
    """`count` edits after `start`, gaps exponential with mean `mean_gap` hours."""
    times, t = [], start
    for _ in range(count):
        t += rng.expovariate(1.0 / mean_gap)
        times.append(t)
    return times


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; means here are small)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _late(rng: random.Random, mean: float, horizon: float) -> list[float]:
    """Late corrections at log-uniform times in [6 h, horizon], each maybe with a small burst."""
    times = []
    for _ in range(_poisson(rng, mean)):
        start = 6.0 * (horizon / 6.0) ** rng.random()
        times += [start, *_burst(rng, start, _poisson(rng, 1.0), 0.5)]
    return times


def edits(kind: str, rng: random.Random, horizon: float) -> list[float]:
    """Edit times (hours after publication) of one page of `kind`, sorted, within horizon."""
    if kind == "static":
        times: list[float] = []
    elif kind == "news":
        times = _burst(rng, 0.0, _poisson(rng, 3.0), 1.5) + _late(rng, 0.6, horizon)
    elif kind == "developing":
        second = rng.uniform(24.0, 72.0)
        times = _burst(rng, 0.0, _poisson(rng, 6.0), 2.0)
        times += [second, *_burst(rng, second, _poisson(rng, 4.0), 1.0)]
    else:  # live
        until = rng.uniform(12.0, 72.0)
        times = [t for t in _burst(rng, 0.0, int(until * 4), 0.5) if t < until]
        times += _late(rng, 1.0, horizon)
    return sorted(t for t in times if t < horizon)


def pages(count: int, seed: int, horizon: float) -> list[tuple[str, list[float]]]:
    """`count` synthetic pages: (kind, edit times)."""
    rng = random.Random(seed)
    kinds = [kind for kind, _ in MIX]
    weights = [share for _, share in MIX]
    return [
        (kind, edits(kind, rng, horizon)) for kind in rng.choices(kinds, weights=weights, k=count)
    ]


# --- policies ----------------------------------------------------------------------------------


def fixed(hours: float) -> Delay:
    """Check every `hours`."""
    return lambda _changes, _now, _rng: hours


def ladder(changes: list[float], now: float, _rng: random.Random) -> float:
    """NewsDiffs: the delay by time since the last detected change."""
    quiet = timedelta(hours=now - (changes[-1] if changes else 0.0))
    return newsdiffs_interval(quiet) / timedelta(hours=1)


def adaptive(policy: Policy) -> Delay:
    """watchdesk's cadence (scheduler/cadence.py), jitter included."""

    def delay(changes: list[float], now: float, rng: random.Random) -> float:
        history = PageHistory(
            watched_since=EPOCH, change_times=tuple(EPOCH + timedelta(hours=c) for c in changes)
        )
        moment = EPOCH + timedelta(hours=now)
        return jittered(next_delay(history, moment, policy), policy.jitter, rng) / timedelta(
            hours=1
        )

    return delay


# --- one policy over all pages ------------------------------------------------------------------


@dataclass
class Tally:
    """What one policy cost and missed."""

    requests: int = 0
    versions: int = 0
    missed: int = 0
    delays: list[float] = field(default_factory=list)
    """Hours each detected version went undetected."""


def watch(
    times: list[float], policy: Delay, horizon: float, rng: random.Random, tally: Tally
) -> None:
    """Check one page from publication to the horizon; count requests, delays, misses."""
    now, seen, changes = 0.0, 0, []
    tally.requests += 1  # the first fetch (the baseline version)
    tally.versions += len(times)
    while True:
        now += max(policy(changes, now, rng), 1e-6)
        if now >= horizon:
            break
        tally.requests += 1
        upto = bisect.bisect_right(times, now)
        if upto > seen:
            tally.delays.append(now - times[upto - 1])
            tally.missed += upto - seen - 1
            changes.append(now)
            seen = upto
    tally.missed += len(times) - seen  # edits after the last check: never seen either


def simulate(
    policy: Delay, corpus: list[tuple[str, list[float]]], horizon: float, seed: int
) -> Tally:
    """Run `policy` over every page; one RNG per policy so jitter repeats."""
    rng, tally = random.Random(seed), Tally()
    for _kind, times in corpus:
        watch(times, policy, horizon, rng, tally)
    return tally


def row(name: str, tally: Tally, pages_count: int, days: float) -> str:
    """One Markdown table row."""
    delays = sorted(tally.delays)
    mean = statistics.fmean(delays) * 60 if delays else 0.0
    p90 = delays[int(0.9 * (len(delays) - 1))] * 60 if delays else 0.0
    return (
        f"| {name} | {tally.requests / (pages_count * days):.1f} | {mean:.0f} | {p90:.0f} | "
        f"{100.0 * tally.missed / max(tally.versions, 1):.1f} % |"
    )


def table(pages_count: int, days: float, seed: int, only: str | None = None) -> str:
    """The comparison as a Markdown table (optionally for one page kind)."""
    horizon = days * 24.0
    corpus = [p for p in pages(pages_count, seed, horizon) if only in (None, p[0])]
    policies: list[tuple[str, Delay]] = [
        ("adaptive (watchdesk)", adaptive(Policy())),
        ("NewsDiffs ladder", ladder),
        ("fixed 15 min", fixed(0.25)),
        ("fixed 1 h", fixed(1.0)),
        ("fixed 6 h", fixed(6.0)),
    ]
    lines = [
        "| policy | requests / page-day | mean undetected (min) | p90 undetected (min) "
        "| versions missed |",
        "|---|---|---|---|---|",
    ]
    for name, policy in policies:
        lines.append(row(name, simulate(policy, corpus, horizon, seed), len(corpus), days))
    return "\n".join(lines)


def append_results(command: str, text: str) -> None:
    """Replace (or add) this benchmark's section of bench/RESULTS.md, leaving others alone."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = old.find(HEADING)
    if start >= 0:
        end = old.find("\n## ", start + len(HEADING))
        old = old[:start].rstrip("\n") + ("\n" + old[end:] if end >= 0 else "")
    section = f"{HEADING}\n\n```sh\n{command}\n```\n\n{text}\n"
    RESULTS.write_text(old.rstrip("\n") + "\n\n" + section, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1500)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--append", action="store_true", help="write to bench/RESULTS.md")
    args = parser.parse_args()
    parts = [f"All pages ({args.pages}, {args.days:g} days each, seed {args.seed}):", ""]
    parts.append(table(args.pages, args.days, args.seed))
    for kind, _share in MIX:
        parts += ["", f"Only `{kind}` pages:", "", table(args.pages, args.days, args.seed, kind)]
    text = "\n".join(parts)
    print(text)
    if args.append:
        command = f"python bench/revisit_sim.py --pages {args.pages} --days {args.days:g} "
        append_results(command + f"--seed {args.seed} --append", text)


if __name__ == "__main__":
    main()
