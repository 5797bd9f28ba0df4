"""Term-free linking on the held-out events of `tests/fixtures/linking/` (issue 9).

The events were written by helper sessions blind to the matcher. Round 1's four held-out events
were committed before the matcher was designed and scored once; they then joined the
development set, and round 2's four held-out events were written afterwards and committed
before the weights were refitted on the twelve development events (`bench/fit_matcher.py`).
The figures are printed and written to tests/.artifacts/linking-heldout.txt; the floors sit
just under what was measured the first time these held-out events were scored, so a
regression fails and no tuning hides in them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.linking_eval import SPLIT, score

ARTIFACTS = Path(__file__).parent / ".artifacts"

#: Measured on the round-2 held-out events. Their first scoring (P 0.679 R 0.500, on-topic
#: 0.824, off-topic 0.822, edits 0.583) came before the cited sources joined the profile, a
#: change chosen on the development events alone (`bench/fit_matcher.py --cv`); these floors
#: sit under the second scoring, after it, which is therefore not a clean held-out figure.
FLOORS = {
    "precision_all": 0.76,
    "recall_all": 0.53,
    "precision_en": 0.76,
    "recall_en": 0.51,
    "precision_es": 0.76,
    "recall_es": 0.69,
    "precision_zh": 0.74,
    "recall_zh": 0.41,
    "on_topic_accuracy": 0.82,
    "off_topic_rejected": 0.86,
    "edit_accuracy": 0.55,
}


def test_split_is_by_event_and_large_enough() -> None:
    assert not set(SPLIT["heldout"]) & set(SPLIT["dev"])
    assert len(SPLIT["heldout"]) >= 4
    assert len(SPLIT["heldout"]) + len(SPLIT["dev"]) >= 12


@pytest.mark.slow
def test_heldout_figures() -> None:
    figures = score(SPLIT["heldout"]).figures()
    lines = [
        "overall: P {precision_all} R {recall_all}; on-topic accuracy {on_topic_accuracy}; "
        "off-topic rejected {off_topic_rejected}; edits to the right item {edit_accuracy}",
        "en: P {precision_en} R {recall_en}; es: P {precision_es} R {recall_es}; "
        "zh: P {precision_zh} R {recall_zh}",
    ]
    report = "\n".join(line.format(**figures) for line in lines) + "\n"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "linking-heldout.txt").write_text(report, encoding="utf-8")
    print(report)
    low = {k: (figures[k], floor) for k, floor in FLOORS.items() if figures[k] < floor}
    assert not low, f"below the floor (measured, floor): {low}"
