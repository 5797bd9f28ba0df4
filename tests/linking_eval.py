"""Score the matcher on the labelled linking events (`tests/fixtures/linking/`).

Used by `tests/test_linking.py` (held-out figures with floors) and by hand while tuning on
the development events only: `python -m tests.linking_eval dev` prints the figures and the
mistakes. An edit counts as linked right when its best linked item is one of its labels (or
when it has no label and nothing is linked).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.cards.parse import parse_card
from crawler.matching.matcher import relate, relate_edit
from crawler.matching.profile import ItemTerms, MatchProfile, SourceText, build_profile
from crawler.matching.text import split_sentences

ROOT = Path(__file__).parent / "fixtures" / "linking"
SPLIT = yaml.safe_load((ROOT / "split.yaml").read_text("utf-8"))


def load_event(slug: str) -> tuple[MatchProfile, list[dict[str, Any]]]:
    """A linking event's profile and its labelled articles.

    The profile is built as production builds it: from the card, and from the cited
    articles as first stored (here the `before` side of the labelled edits, which are the
    card's cited URLs).
    """
    card = parse_card((ROOT / slug / "card.md").read_text("utf-8"), name=f"{slug}/card.md")
    articles = yaml.safe_load((ROOT / slug / "articles.yaml").read_text("utf-8"))
    cited = [a["before"] for a in articles if a["kind"] == "edit"]
    profile = build_profile(
        title=card.title,
        lede=card.lede,
        summary=card.summary,
        entities=list(card.entities),
        items=[ItemTerms(w.number, w.text) for w in card.watch_items],
        sources=[SourceText(a["title"], a["text"]) for a in cited],
    )
    return profile, articles


def edit_parts(article: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """What an edit changed: a new headline (or None), added and removed sentences."""
    before, after = article["before"], article["after"]
    old, new = split_sentences(before["text"]), split_sentences(after["text"])
    added = [s for s in new if s not in set(old)]
    removed = [s for s in old if s not in set(new)]
    title = after["title"] if after["title"] != before["title"] else None
    return title, added, removed


@dataclass
class Scores:
    """Counts behind the figures, overall and per language."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    topic_right: int = 0
    topic_total: int = 0
    off_rejected: int = 0
    off_total: int = 0
    edits_right: int = 0
    edits_total: int = 0
    mistakes: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """Precision/recall overall and per language, on-topic accuracy, off-topic and edits."""
        out: dict[str, float] = {}
        for lang in ("all", "en", "es", "zh"):
            tp, fp, fn = self.tp[lang], self.fp[lang], self.fn[lang]
            out[f"precision_{lang}"] = round(tp / (tp + fp), 3) if tp + fp else 1.0
            out[f"recall_{lang}"] = round(tp / (tp + fn), 3) if tp + fn else 1.0
        out["on_topic_accuracy"] = round(self.topic_right / max(1, self.topic_total), 3)
        out["off_topic_rejected"] = round(self.off_rejected / max(1, self.off_total), 3)
        out["edit_accuracy"] = round(self.edits_right / max(1, self.edits_total), 3)
        return out


def score(slugs: list[str]) -> Scores:
    """Run the matcher over every article of the events and count."""
    scores = Scores()
    for slug in slugs:
        profile, articles = load_event(slug)
        for article in articles:
            if article["kind"] == "edit":
                _score_edit(profile, slug, article, scores)
            else:
                _score_article(profile, slug, article, scores)
    return scores


def _score_article(profile: MatchProfile, slug: str, article: dict[str, Any], s: Scores) -> None:
    result = relate(profile, title=article["title"], text=article["text"])
    got = {m.id for m in result.items}
    want = set(article["items"])
    lang = article["lang"]
    for key in ("all", lang):
        s.tp[key] += len(got & want)
        s.fp[key] += len(got - want)
        s.fn[key] += len(want - got)
    s.topic_total += 1
    s.topic_right += result.on_topic == article["on_topic"]
    if not article["on_topic"]:
        s.off_total += 1
        s.off_rejected += not result.on_topic
    if got != want or result.on_topic != article["on_topic"]:
        s.mistakes.append(
            f"{slug}/{article['name']} [{article['kind']} {lang}] on_topic "
            f"{result.on_topic} (want {article['on_topic']}, score {result.score}, "
            f"{result.evidence[1]}) items {sorted(got)} want {sorted(want)} "
            f"scores {[(i, sc) for i, sc, _ in result.item_scores]}"
        )


def _score_edit(profile: MatchProfile, slug: str, article: dict[str, Any], s: Scores) -> None:
    title, added, removed = edit_parts(article)
    matches = relate_edit(profile, title=title, added=added, removed=removed)
    want = set(article["items"])
    right = (matches[0].id in want) if matches else not want
    s.edits_total += 1
    s.edits_right += right
    if not right:
        s.mistakes.append(
            f"{slug}/{article['name']} [edit {article['lang']}] got "
            f"{[(m.id, m.score) for m in matches]} want {sorted(want)}"
        )


def main(argv: list[str]) -> None:
    """`python -m tests.linking_eval dev|heldout [--mistakes]`: print the figures."""
    which = argv[0] if argv else "dev"
    scores = score(SPLIT[which])
    if "--mistakes" in argv:
        print("\n".join(scores.mistakes))
    print(which, scores.figures())


if __name__ == "__main__":
    main(sys.argv[1:])
