"""Which candidate may become the baseline (`crawler.changes.baseline`), on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.changes.baseline import (
    Held,
    confirmed,
    decoding_only,
    ends_properly,
    suspect_reason,
)
from crawler.extract.article import ArticleText

BODY = tuple(f"Paragraph {n} of the story, with enough words to count as text." for n in range(8))
ARTICLE = ArticleText(title="Peña meets Lai in Taipei", paragraphs=BODY)


@pytest.mark.parametrize(
    "title",
    [
        "Sorry, something went wrong",
        "Page not found",
        "Before you continue",
        "We value your privacy",
        "Sign in",
        "Iniciar sesión",
        "Algo salió mal",
    ],
)
def test_error_consent_and_sign_in_titles_are_suspect(title: str) -> None:
    page = ArticleText(title=title, paragraphs=BODY)
    assert suspect_reason(page, ARTICLE) is not None
    assert suspect_reason(page, None) is not None  # even as a first version


def test_collapse_of_text_or_structure_is_suspect() -> None:
    three_of_eight = ArticleText(title=ARTICLE.title, paragraphs=BODY[:3])
    assert "collapsed" in (suspect_reason(three_of_eight, ARTICLE) or "")
    merged = ArticleText(title=ARTICLE.title, paragraphs=(" ".join(BODY),))
    assert suspect_reason(merged, ARTICLE) is None  # same text, regrouped
    edited = ArticleText(title="Peña meets Lai", paragraphs=(*BODY[:7], "A new ending."))
    assert suspect_reason(edited, ARTICLE) is None
    assert suspect_reason(ARTICLE, ARTICLE, cut_short=True) == "HTML cut short"


def test_headline_about_an_error_is_not_suspect_when_the_baseline_had_it() -> None:
    story = ArticleText(title="Error 404: the film", paragraphs=BODY)
    assert suspect_reason(ArticleText(title=story.title, paragraphs=BODY[1:]), story) is None


def test_ends_properly() -> None:
    assert ends_properly(b"<html><body><p>x</p></body></html>\n")
    assert not ends_properly(b"<html><body><p>x</p><p>cut he")


def test_confirmation_needs_the_same_content_after_the_wait() -> None:
    now = datetime(2026, 5, 8, 12, tzinfo=UTC)
    held = Held("f" * 64, now - timedelta(minutes=30))
    assert not confirmed(held, "f" * 64, now, 3600)
    assert confirmed(held, "f" * 64, now + timedelta(minutes=30), 3600)
    assert not confirmed(held, "e" * 64, now + timedelta(hours=2), 3600)
    assert confirmed(held, "f" * 64, now, 0)
    assert not confirmed(None, "f" * 64, now, 0)


def test_decoding_only() -> None:
    good = ArticleText(title="Darán bendición", paragraphs=('"Con la bendición de Dios"',))
    broken = ArticleText(
        title="Dar\ufffdn bendici\ufffdn", paragraphs=("\ufffdCon la bendici\ufffdn de Dios\ufffd",)
    )
    mojibake = ArticleText(title="DarÃ¡n bendiciÃ³n", paragraphs=('"Con la bendiciÃ³n de Dios"',))
    assert decoding_only(good, broken) and decoding_only(good, mojibake)
    edited = ArticleText(title="Darán bendición", paragraphs=('"Con la bendición de todos"',))
    assert not decoding_only(good, edited)
    chinese = ArticleText(title="賴清德會見彭那", paragraphs=("三項協議",))
    assert not decoding_only(chinese, ArticleText(title="賴清德會見彭", paragraphs=("三項協議",)))
