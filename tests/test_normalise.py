"""normalise(), text_hash() and fingerprint(): what counts as the same text."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from crawler.extract.article import ArticleText
from crawler.extract.normalise import fingerprint, normalise, text_hash

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "normalise.yaml").read_text("utf-8"))

ARTICLE = ArticleText(
    title="Peña arrives in Taipei",
    paragraphs=("Paraguay's president arrived on Thursday.", "He meets Lai on Friday."),
    headlines={"h1": "Peña arrives in Taipei", "title": "Peña arrives in Taipei - Example"},
    byline="Jane Doe",
    published="2026-05-07T10:00:00+08:00",
    modified="2026-05-07T12:00:00+08:00",
)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_normalise_case(case: dict[str, str]) -> None:
    assert normalise(case["input"]) == case["expected"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_normalise_is_idempotent(case: dict[str, str]) -> None:
    once = normalise(case["input"])
    assert normalise(once) == once


def test_hashes_are_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", text_hash(ARTICLE))
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(ARTICLE))
    assert text_hash(ARTICLE) != fingerprint(ARTICLE)


def test_rendering_differences_hash_equal() -> None:
    """Curly quotes, NBSP, NFD and a soft hyphen are the same text."""
    rerendered = dataclasses.replace(
        ARTICLE,
        title="Pen\u0303a arrives in\u00a0Taipei",
        paragraphs=("Paraguay\u2019s presi\u00addent arrived on Thursday.", ARTICLE.paragraphs[1]),
    )
    assert text_hash(rerendered) == text_hash(ARTICLE)
    assert fingerprint(rerendered) == fingerprint(ARTICLE)


@pytest.mark.parametrize(
    "change",
    [
        {"modified": "2026-05-07T18:30:00+08:00"},
        {"published": "2026-05-07T09:00:00+08:00"},
        {"byline": "Jane Doe and John Roe"},
    ],
    ids=["modified moved", "published moved", "byline changed"],
)
def test_metadata_only_change_keeps_text_hash(change: dict[str, str]) -> None:
    """A version of kind dates/byline: new fingerprint, same text hash, so never an alert."""
    moved = dataclasses.replace(ARTICLE, **change)
    assert text_hash(moved) == text_hash(ARTICLE)
    assert fingerprint(moved) != fingerprint(ARTICLE)


@pytest.mark.parametrize(
    "change",
    [
        {"paragraphs": ("Paraguay's president arrived on Wednesday.", "He meets Lai on Friday.")},
        {"paragraphs": ("He meets Lai on Friday.", "Paraguay's president arrived on Thursday.")},
        {"title": "Peña lands in Taipei"},
        {"headlines": {"h1": "Peña arrives in Taipei", "title": "Peña lands in Taipei - Example"}},
    ],
    ids=["word edited", "paragraphs reordered", "title changed", "title tag variant changed"],
)
def test_text_change_changes_both_hashes(change: dict[str, object]) -> None:
    edited = dataclasses.replace(ARTICLE, **change)
    assert text_hash(edited) != text_hash(ARTICLE)
    assert fingerprint(edited) != fingerprint(ARTICLE)
