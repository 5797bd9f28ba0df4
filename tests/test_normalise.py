"""normalise(), text_hash() and fingerprint(): what counts as the same text."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from crawler.extract.article import ArticleText
from crawler.extract.normalise import decode_html, fingerprint, header_charset, normalise, text_hash

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


# --- decoding response bytes ------------------------------------------------------------------

SPANISH = (
    "<html><head><title>Peña en Taipéi</title></head><body><p>El presidente Santiago Peña llegó "
    "a Taipéi el jueves; la visita “histórica” del mandatario paraguayo duró tres días.</p>"
    "</body></html>"
)


def test_undeclared_latin_page_decodes_as_windows_1252_not_cp1250() -> None:
    raw = SPANISH.encode("cp1252")
    assert b"Pe\xf1a" in raw and b"\x93hist" in raw  # real single-byte bytes, curly quotes too
    text = decode_html(raw)
    assert "Peña" in text and "Peńa" not in text
    assert "“histórica”" in text


def test_iso_8859_1_label_means_windows_1252() -> None:
    raw = SPANISH.encode("cp1252")
    for content_type in ("text/html; charset=ISO-8859-1", 'text/html;charset="latin1"'):
        assert "Peña llegó" in decode_html(raw, content_type)
        assert "“histórica”" in decode_html(raw, content_type)  # 0x93/0x94: cp1252 only
    meta = b'<html><head><meta charset="iso-8859-1"></head>' + raw
    assert "“histórica”" in decode_html(meta)


def test_http_header_charset_wins_over_meta_and_guess() -> None:
    raw = b'<html><head><meta charset="utf-8"></head><body><p>Pe\xf1a</p></body></html>'
    assert "Peña" in decode_html(raw, "text/html; charset=windows-1252")
    assert "Pe\ufffda" in decode_html(raw)  # the meta tag alone says UTF-8
    chinese = "<html><body><p>總統賴清德與巴拉圭總統彭那會談</p></body></html>".encode("big5")
    assert "賴清德" in decode_html(chinese, "text/html; charset=Big5")
    utf8 = "<p>Peña</p>".encode()
    assert decode_html(utf8, "text/html; charset=bogus-charset") == "<p>Peña</p>"
    assert decode_html(utf8, "text/html") == "<p>Peña</p>"


def test_header_charset_parsing() -> None:
    assert header_charset("text/html; charset=UTF-8") == "utf_8"
    assert header_charset('text/html; charset="ISO-8859-1"') == "cp1252"
    assert header_charset("text/html") is None
    assert header_charset(None) is None
    assert header_charset("text/html; charset=nonsense") is None


def test_extraction_uses_the_header_charset() -> None:
    from crawler.extract.extraction import extract_article

    body = "<p>El presidente Santiago Peña llegó a Taipéi el jueves por la tarde.</p>" * 4
    raw = f"<html><head><title>Peña en Taipéi</title></head><body><article>{body}</article>"
    raw += "</body></html>"
    data = raw.encode("cp1252")
    article = extract_article(data, "https://www.example.com.py/a", "text/html; charset=ISO-8859-1")
    assert article.title is not None and "Peña" in article.title
    assert any("Peña llegó" in paragraph for paragraph in article.paragraphs)
