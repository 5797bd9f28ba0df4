"""Change classification: the named cases of tests/cases/changes.yaml, plus the API around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.changes.classify import SIGNIFICANT, ChangeKind, Classification, classify, state_change
from crawler.changes.diffing import diff_versions
from crawler.extract.article import ArticleText

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "changes.yaml").read_text("utf-8"))


def _article(fields: dict[str, Any]) -> ArticleText:
    """An ArticleText from a YAML mapping."""
    return ArticleText(
        title=fields.get("title"),
        paragraphs=tuple(fields.get("paragraphs", ())),
        headlines=dict(fields.get("headlines", {})),
        byline=fields.get("byline"),
        published=fields.get("published"),
        modified=fields.get("modified"),
        language=fields.get("language"),
    )


def _pair(case: dict[str, Any]) -> tuple[ArticleText, ArticleText]:
    """The before/after articles of a case (`after` only lists what differs)."""
    return _article(case["before"]), _article({**case["before"], **case["after"]})


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    """Kinds, significance and the evidence each case names."""
    old, new = _pair(case)
    result = classify(old, new)
    kinds = [str(kind) for kind in result.kinds] if result else []
    assert kinds == case["kinds"], result.summary if result else "no change"
    assert bool(result and result.significant) == case["significant"]
    if "numbers" in case:
        assert [list(pair) for pair in result.numbers] == case["numbers"]
    if "notes" in case:
        assert list(result.correction_notes) == case["notes"]


def test_cases_cover_every_kind_in_three_languages() -> None:
    """The case file exercises every pair-level kind in en, es and zh."""
    seen: dict[str, set[str]] = {}
    for case in CASES:
        for kind in case["kinds"]:
            seen.setdefault(kind, set()).add(case["name"][:2])
    for kind in ("headline", "correction", "edit", "minor", "cosmetic", "dates"):
        assert seen[kind] >= {"en", "es", "zh"}, kind
    assert "byline" in seen and [] in [case["kinds"] for case in CASES]


def test_summary_names_headline_paragraphs_and_figures() -> None:
    """The one-line summary tells an editor what happened, in the issue's words."""
    case = next(case for case in CASES if case["name"] == "en_several_kinds")
    result = classify(*_pair(case))
    assert result is not None
    assert 'Headline changed: "Dam breach floods three villages" → "Dam breach forces' in (
        result.summary
    )
    assert "1 paragraph changed" in result.summary
    assert "figure 40 → 120" in result.summary
    assert result.added == ("Rescue teams evacuated 120 people from the lower town.",) or (
        "Rescue teams evacuated 120 people from the lower town." in result.added
    )
    assert "Rescue teams evacuated 40 people from the lower town." in result.removed


def test_added_and_removed_sentences_are_trimmed_sentences() -> None:
    """A sentence added to a paragraph is reported alone, not with its whole paragraph."""
    case = next(case for case in CASES if case["name"] == "en_sentence_added")
    result = classify(*_pair(case))
    assert result is not None
    assert result.added == ("It was built in 1962.",)
    assert result.removed == ()


def test_quotes_are_reported() -> None:
    """A changed quotation comes back as (old, new)."""
    case = next(case for case in CASES if case["name"] == "es_quote_changed")
    result = classify(*_pair(case))
    assert result is not None
    assert result.quotes == (
        ("«No tenemos suficientes brigadistas»", "«No tenemos los brigadistas»"),
    )


def test_rewritten_article_is_an_edit() -> None:
    """Unrelated texts under the same URL: rewritten, edit, significant."""
    old = ArticleText("Storm", ("Heavy rain is expected across the north on Monday.",) * 1)
    new = ArticleText("Storm", ("El gobierno presentó hoy su nuevo presupuesto nacional.",))
    diff = diff_versions(old, new)
    result = classify(old, new, diff)
    assert diff.rewritten
    assert result is not None and result.kind is ChangeKind.EDIT and result.significant
    assert "rewritten" in result.summary


def test_classify_accepts_a_precomputed_diff() -> None:
    """Passing the diff gives the same verdict as letting classify compute it."""
    old, new = _pair(next(case for case in CASES if case["name"] == "en_number_changed"))
    assert classify(old, new, diff_versions(old, new)) == classify(old, new)


@pytest.mark.parametrize(
    ("kind", "significant", "summary"),
    [
        (ChangeKind.REMOVED, True, 'Article removed: "Dam breach floods three villages"'),
        (ChangeKind.RESTORED, False, 'Article restored: "Dam breach floods three villages"'),
    ],
)
def test_state_change(kind: ChangeKind, significant: bool, summary: str) -> None:
    """Removal is significant, restoration is reported but not an alert."""
    result = state_change(kind, "Dam breach floods three villages")
    assert result.kinds == (kind,)
    assert result.kind is kind
    assert result.significant is significant
    assert result.summary == summary


def test_state_change_without_title() -> None:
    """A removal of a page whose title we never knew still reads well."""
    assert state_change(ChangeKind.REMOVED, None).summary == "Article removed"


def test_significant_set_is_the_issues() -> None:
    """SIGNIFICANT is exactly headline, correction, edit and removed."""
    assert {str(kind) for kind in SIGNIFICANT} == {"headline", "correction", "edit", "removed"}


def test_classification_to_json_is_json() -> None:
    """to_json survives a JSON round trip with every field."""
    case = next(case for case in CASES if case["name"] == "en_several_kinds")
    result = classify(*_pair(case))
    assert isinstance(result, Classification)
    data = json.loads(json.dumps(result.to_json()))
    assert data["kinds"] == ["headline", "edit", "byline", "dates"]
    assert data["significant"] is True
    assert data["numbers"] == [["40", "120"]]
    assert data["summary"] == result.summary
