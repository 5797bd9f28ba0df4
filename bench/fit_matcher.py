"""Fit the matcher's logistic weights on the development linking events only.

`python bench/fit_matcher.py` reads `tests/fixtures/linking/split.yaml`, computes the
on-topic, item and edit features of every development article with the matcher's own
functions, fits three L2-regularised logistic models (Newton's method, numpy) and writes
`crawler/matching/weights.json`. The held-out events are never read here.
`python bench/fit_matcher.py --cv` scores the design by leaving one development event out
at a time instead (nothing written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.matching import matcher
from crawler.matching.text import split_sentences
from tests.linking_eval import SPLIT, Scores, edit_parts, load_event, score

OUT = Path(matcher.__file__).parent / "weights.json"
L2 = 0.01


def fit(x: np.ndarray, y: np.ndarray, *, balanced: bool, l2: float = L2) -> list[float]:
    """Logistic regression by Newton's method; returns bias then weights.

    The on-topic model is class-balanced (each class weighs half): a false alert costs an
    editor as much as a miss, and the development set has twice as many on-topic articles as
    off-topic ones. The item models are not: most (article, item) pairs are negatives, and
    balancing them links every article to several items.
    """
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    reg = np.eye(a.shape[1]) * l2
    reg[0, 0] = 0.0
    positives = max(1.0, float(y.sum()))
    c = np.where(y > 0.5, len(y) / (2 * positives), len(y) / (2 * max(1.0, len(y) - positives)))
    if not balanced:
        c = np.ones(len(y))
    for _ in range(50):
        p = 1 / (1 + np.exp(-a @ w))
        grad = a.T @ (c * (p - y)) + reg @ w
        hess = a.T @ (a * (c * p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return [round(float(v), 4) for v in w]


def pairs(scores: list[tuple[int, float, str]], context: float, want: set[int]):
    """(features, label) for every item of one article or edit."""
    values = sorted((s for _, s, _ in scores), reverse=True)
    for item_id, value, _ in scores:
        yield matcher.pair_features(value, values, context), float(item_id in want)


Rows = dict[str, tuple[list[list[float]], list[float]]]


def collect(slugs: list[str]) -> Rows:
    """Feature rows and labels of the three models over the given events."""
    rows: Rows = {k: ([], []) for k in ("topic", "item", "edit")}
    for slug in slugs:
        profile, articles = load_event(slug)
        for art in articles:
            if art["kind"] == "edit":
                title, added, removed = edit_parts(art)
                parts = [("+ ", s) for s in added] + [("- ", s) for s in removed]
                if title:
                    parts.insert(0, ("+ ", title))
                sent = matcher._encode([s for _, s in parts], tuple(p for p, _ in parts))
                context = float((sent.vectors @ profile.context_vectors.T).max())
                for f, label in pairs(
                    matcher._item_scores(profile, sent), context, set(art["items"])
                ):
                    rows["edit"][0].append(f)
                    rows["edit"][1].append(label)
                continue
            texts = [art["title"], *split_sentences(art["text"])]
            sent = matcher._encode(texts)
            _, places, names, foreign = matcher._anchors(profile, sent.texts)
            scores = matcher._item_scores(profile, sent)
            _, topic = matcher.topic_features(profile, sent, places, names, foreign, scores)
            rows["topic"][0].append(topic)
            rows["topic"][1].append(float(art["on_topic"]))
            if art["on_topic"]:
                for f, label in pairs(scores, topic[0], set(art["items"])):
                    rows["item"][0].append(f)
                    rows["item"][1].append(label)
    return rows


def fit_all(rows: Rows, *, verbose: bool = False) -> dict[str, list[float]]:
    """The three models' weights from feature rows."""
    weights = {}
    for name, (x, y) in rows.items():
        xa, ya = np.array(x), np.array(y)
        weights[name] = fit(xa, ya, balanced=name == "topic")
        if verbose:
            a = np.hstack([np.ones((len(xa), 1)), xa])
            acc = float(((a @ np.array(weights[name]) > 0) == (ya > 0.5)).mean())
            print(f"{name}: n={len(ya)} positives={int(ya.sum())} training accuracy={acc:.3f}")
    return weights


def cross_validate() -> None:
    """Leave one development event out: fit on the others, score it, pool the counts.

    The figure to design by, since every development event is in the fit that ships; the
    held-out events are still never read.
    """
    per_event = {slug: collect([slug]) for slug in SPLIT["dev"]}
    pooled = Scores()
    for slug in SPLIT["dev"]:
        rows: Rows = {k: ([], []) for k in ("topic", "item", "edit")}
        for other, other_rows in per_event.items():
            for name, (x, y) in other_rows.items():
                if other != slug:
                    rows[name][0].extend(x)
                    rows[name][1].extend(y)
        matcher.WEIGHTS.update(fit_all(rows))
        fold = score([slug])
        for counter in ("tp", "fp", "fn"):
            getattr(pooled, counter).update(getattr(fold, counter))
        for total in ("topic_right", "topic_total", "off_rejected", "off_total"):
            setattr(pooled, total, getattr(pooled, total) + getattr(fold, total))
        pooled.edits_right += fold.edits_right
        pooled.edits_total += fold.edits_total
    print("leave-one-event-out over", len(SPLIT["dev"]), "events:", pooled.figures())


def main(argv: list[str]) -> None:
    """Fit and write the weights (or, with --cv, only cross-validate)."""
    if "--cv" in argv:
        cross_validate()
        return
    weights = fit_all(collect(SPLIT["dev"]), verbose=True)
    OUT.write_text(json.dumps(weights) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main(sys.argv[1:])
