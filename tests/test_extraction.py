"""extract_article() and its checks on real pages (tests/fixtures/pages, PROVENANCE.md there)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import trafilatura
import yaml

from crawler.extract.article import ArticleText
from crawler.extract.extraction import (
    EXTRACTOR_NAME,
    EXTRACTOR_VERSION,
    MAX_HTML_CHARS,
    decode_html,
    extract_article,
    fingerprint,
    is_challenge_page,
    looks_truncated,
    text_hash,
)
from crawler.extract.furniture import _visible_chars, is_furniture, strip_editor_codes
from crawler.extract.normalise import normalise

TESTS = Path(__file__).parent
PAGES = TESTS / "fixtures" / "pages"
SCRAPINGHUB = TESTS / "fixtures" / "scrapinghub"
ARTIFACTS = TESTS / ".artifacts"

WAPO_2024 = PAGES / "washingtonpost" / "2024-04-26_tornadoes-central-us.fundus.html.gz"
WAPO_2024_URL = "https://www.washingtonpost.com/weather/2024/04/26/storms-tornadoes-iowa-kansas-nebraska-oklahoma/"
WAPO_2020 = PAGES / "washingtonpost" / "2020-07-08_federal-workers-returning.htmldate.html.gz"
WAPO_2020_URL = (
    "https://www.washingtonpost.com/politics/federal-workers-are-returning-to-the-office-some-"
    "members-of-congress-say-they-shouldnt-be/2020/07/08/c3d22ec8-c151-11ea-b4f6-cb39cd8940fb_story.html"
)
CNA_001 = PAGES / "cna" / "cna-001.html.gz"
CNA_001_URL = "https://www.cna.com.tw/news/ahel/202308230179.aspx"
HOY = PAGES / "hoy" / "hoy.com-daran.html.gz"
HOY_URL = "https://www.hoy.com.py/nacionales/daran-bendicion-a-vehiculos-este-sabado"
TAIPEI_TIMES = PAGES / "taipeitimes" / "TaipeiTimes_2024_10_15.html.gz"
TAIPEI_TIMES_URL = "https://www.taipeitimes.com/News/front/archives/2024/10/16/2003825372"

#: Regression floor: default trafilatura scores F1 0.957 on this set (OUTLETS.md).
F1_FLOOR = 0.95
_TOKEN = re.compile(r"\w+")


def page(path: Path) -> bytes:
    """The raw bytes of a gzipped fixture page."""
    return gzip.decompress(path.read_bytes())


def fundus_paragraphs(path: Path) -> list[str]:
    """Body paragraphs (subheads excluded) of a fundus ground-truth file, normalised."""
    body = json.loads(path.read_text("utf-8"))["V1"]["body"]
    return [normalise(p) for section in body["sections"] for p in section["paragraphs"]]


@pytest.fixture(scope="module")
def wapo_2024() -> ArticleText:
    return extract_article(page(WAPO_2024), WAPO_2024_URL)


@pytest.fixture(scope="module")
def cna() -> ArticleText:
    return extract_article(page(CNA_001), CNA_001_URL)


# --- outlet pages -------------------------------------------------------------------------


def test_wapo_2024_paragraph_recall(wapo_2024: ArticleText) -> None:
    """OUTLETS.md: default trafilatura finds 22 of fundus' 23 paragraphs; we must not do worse."""
    expected = fundus_paragraphs(
        WAPO_2024.with_name(WAPO_2024.name.replace("html.gz", "expected.json"))
    )
    found = [p for p in expected if p in wapo_2024.paragraphs]
    assert len(expected) == 23
    assert len(found) >= 22, f"missing: {[p for p in expected if p not in found]}"


def test_wapo_2024_metadata(wapo_2024: ArticleText) -> None:
    assert wapo_2024.title == "Strong tornadoes possible in severe storm outbreak in central states"
    assert wapo_2024.headlines["h1"] == wapo_2024.title
    assert wapo_2024.headlines["og:title"] == wapo_2024.title
    # <title> carries the alternative headline (OUTLETS.md lesson 2).
    assert wapo_2024.headlines["title"].startswith(
        "A few strong tornadoes could strike central U.S."
    )
    assert wapo_2024.byline == "Matthew Cappucci"
    assert wapo_2024.published == "2024-04-26T15:24:04.336000+00:00"  # fundus' publishing_date
    assert wapo_2024.language == "en"
    assert wapo_2024.canonical_url == WAPO_2024_URL
    assert wapo_2024.accessible_for_free is False


def test_wapo_2020_dates_come_from_json_ld_not_the_url() -> None:
    """The URL says 2020/07/08; JSON-LD and the htmldate ground truth say 2020-07-09."""
    article = extract_article(page(WAPO_2020), WAPO_2020_URL)
    assert article.published is not None
    assert article.published.startswith("2020-07-09T10:04:04")
    assert article.modified is not None
    assert article.modified.startswith("2020-07-09T22:40")
    # The lede sits in a teaser block that default trafilatura skips (see _best_body).
    assert article.paragraphs[0].startswith("With the number of coronavirus cases increasing")
    assert article.paragraphs[1].startswith('"I think we have to press the pause button')
    assert article.paragraphs[2].startswith("Senators representing Maryland and Virginia")


def test_cna_headline_dates_and_furniture(cna: ArticleText) -> None:
    assert cna.title == "新北攤商涉用豬肉混充羊肉 最重可罰400萬加坐牢"
    assert cna.headlines["og:title"].endswith("| 生活 | 中央社 CNA")
    assert cna.published == "2023-08-23T15:06:00+08:00"
    assert cna.modified == "2023-08-23T15:31:00+08:00"
    assert cna.language == "zh"
    body = cna.text
    assert cna.paragraphs[-1].startswith("根據中華民國刑法255條規定")
    for furniture in (
        "本網站之文字",
        "延伸閱讀",
        "巴沙魚究竟是什麼",
        "更新）",
        "1120823",
        "編輯：",
    ):
        assert furniture not in body, furniture


def test_cna_copyright_line_is_removed_by_our_filter(cna: ArticleText) -> None:
    """Trafilatura alone keeps the copyright notice: the furniture filter is what drops it."""
    raw = trafilatura.extract(page(CNA_001), deduplicate=False) or ""
    assert "本網站之文字、圖片及影音，非經授權" in raw
    assert not any("非經授權" in p for p in cna.paragraphs)


def test_taipei_times_body_is_the_story() -> None:
    """favor_recall picks the wrong block here; the body must still be fundus' paragraphs."""
    article = extract_article(page(TAIPEI_TIMES), TAIPEI_TIMES_URL)
    expected = fundus_paragraphs(TAIPEI_TIMES.parent / "TaipeiTimes.expected.json")
    found = [p for p in expected if p in article.paragraphs]
    assert len(found) >= 0.9 * len(expected)


def test_spanish_page_without_appended_stories() -> None:
    """hoy.com.py appends the next stories (infinite scroll); trafilatura's eval snippets."""
    article = extract_article(page(HOY), HOY_URL)
    assert article.title == "Darán bendición a vehículos este sábado"
    assert article.language == "es"
    body = article.text
    for snippet in (
        "a ocasión también para entregar una",
        "Hermanos Franciscanos Capuchinos realizarán",
    ):
        assert snippet in body
    for snippet in (
        "Etiquetas:",
        "La bendición se realizará mañana. Foto: LN",
        "Bebé muere electrocutado al",
    ):
        assert snippet not in body


# --- decoding and bad input ---------------------------------------------------------------


def test_utf8_bytes_without_charset_decode_as_utf8() -> None:
    """ukrinform.ru declares no charset at all (like the Presidential Office's text/html)."""
    raw = page(PAGES / "encodings" / "ukrinform-1716561772.html.gz")
    assert b"charset" not in raw.lower()
    assert decode_html(raw) == raw.decode("utf-8")
    article = extract_article(raw, "https://www.ukrinform.ru/rubric-kyiv/3103218.html")
    assert article.title is not None
    assert article.title.startswith("Полиция направила дело")
    assert "\ufffd" not in article.text
    assert "Ð" not in article.text  # the mark of UTF-8 read as Latin-1


def test_declared_gb2312_is_honoured() -> None:
    article = extract_article(
        page(PAGES / "encodings" / "xinhuanet-gb2312.html.gz"), "https://x.test/"
    )
    assert article.title == "话剧《约定无期限》河北各市巡演结束"
    assert (
        "秦皇岛、承德、张家口等10个设区市演出(此前已在保定市演出多场)，引起强烈反响。"
        in article.text
    )


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        "",
        "   \n\t ",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        bytes(range(256)) * 40,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "just a line of plain text, not a page",
        "<html></html>",
        '{"not": "html"}',
    ],
    ids=[
        "empty bytes",
        "empty str",
        "blank",
        "pdf",
        "binary",
        "png",
        "plain text",
        "empty html",
        "json",
    ],
)
def test_junk_gives_an_empty_article(junk: str | bytes) -> None:
    article = extract_article(junk, "https://x.test/")
    assert article.paragraphs == ()


def test_huge_page_is_cut_at_the_cap() -> None:
    """A 5 MB page: the story (at the top) is extracted, text past MAX_HTML_CHARS is not."""
    html = page(WAPO_2024).decode("utf-8")
    filler = "<div><p>" + "padding words " * 400_000 + "</p><p>FAR-END-MARKER</p></div>"
    huge = html.replace("</body>", filler + "</body>")
    assert len(huge) > MAX_HTML_CHARS + 1_000_000
    article = extract_article(huge, WAPO_2024_URL)
    assert article.title == "Strong tornadoes possible in severe storm outbreak in central states"
    assert "FAR-END-MARKER" not in article.text


# --- identity -------------------------------------------------------------------------------


def test_same_page_five_times_gives_identical_results() -> None:
    """The deduplication trap: repeat extractions in one process must not drift."""
    pages = [(page(WAPO_2024), WAPO_2024_URL), (page(CNA_001), CNA_001_URL), (page(HOY), HOY_URL)]
    runs = [[extract_article(html, url) for html, url in pages] for _ in range(5)]
    for index in range(len(pages)):
        results = [run[index] for run in runs]
        assert all(result == results[0] for result in results)
        assert len({fingerprint(result) for result in results}) == 1
        assert results[0].paragraphs


def test_rerendered_page_has_the_same_hashes(wapo_2024: ArticleText) -> None:
    """Smart quotes switched off, soft hyphens and NBSPs added by a CMS: same version."""
    html = page(WAPO_2024).decode("utf-8")
    rerendered = (
        html.replace("\u2019", "&#39;")
        .replace("&#8217;", "'")
        .replace("tornadoes", "tor&shy;na&shy;does")
        .replace("Des Moines", "Des&nbsp;Moines")
    )
    assert rerendered != html
    again = extract_article(rerendered, WAPO_2024_URL)
    assert text_hash(again) == text_hash(wapo_2024)
    assert fingerprint(again) == fingerprint(wapo_2024)


def test_extractor_version_names_trafilatura_and_our_rules() -> None:
    assert EXTRACTOR_NAME == "trafilatura"
    assert re.fullmatch(re.escape(trafilatura.__version__) + r"\+wd\d+", EXTRACTOR_VERSION)


def test_pure_modules_do_not_import_scrapy_or_sqlalchemy() -> None:
    code = (
        "import sys, crawler.extract.extraction, crawler.extract.furniture, "
        "crawler.extract.normalise; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'sqlalchemy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=TESTS.parent
    )
    assert result.stdout.strip() == "[]"


# --- furniture ----------------------------------------------------------------------------

FURNITURE = yaml.safe_load((TESTS / "cases" / "furniture.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", FURNITURE, ids=[case["name"] for case in FURNITURE])
def test_furniture_case(case: dict[str, object]) -> None:
    assert is_furniture(str(case["text"])) is case["furniture"]


@pytest.mark.parametrize(
    ("paragraph", "stripped"),
    [
        ("Taipei, May 8 (CNA) The talks ended. Enditem/AW", "Taipei, May 8 (CNA) The talks ended."),
        ("處3萬元以下罰金。（編輯：李亨山）1120823", "處3萬元以下罰金。"),
        ("有30年。（譯者：王嘉語/核稿：嚴思祺）1120823", "有30年。"),
        (
            "The word Enditem appears mid-sentence here.",
            "The word Enditem appears mid-sentence here.",
        ),
    ],
)
def test_strip_editor_codes(paragraph: str, stripped: str) -> None:
    assert strip_editor_codes(paragraph) == stripped


# --- challenge pages ------------------------------------------------------------------------

CHALLENGES = yaml.safe_load((TESTS / "cases" / "challenges.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CHALLENGES, ids=[case["name"] for case in CHALLENGES])
def test_challenge_case(case: dict[str, object]) -> None:
    assert is_challenge_page(str(case["html"]), int(str(case["status"]))) is case["expected"]


@pytest.mark.parametrize("case", CHALLENGES, ids=[case["name"] for case in CHALLENGES])
def test_challenge_case_as_bytes(case: dict[str, object]) -> None:
    """Crawled bodies are bytes: the bytes path gives every case's verdict too."""
    html = str(case["html"]).encode()
    assert is_challenge_page(html, int(str(case["status"]))) is case["expected"]


def test_visible_text_counts_alike_in_bytes_and_in_text() -> None:
    """Bytes are stripped before they are decoded: the count is the decoded page's, with
    upper-case tags, non-ASCII text and whitespace, and a broken UTF-8 sequence."""
    html = (
        "<html><SCRIPT>var captcha = 1;</SCRIPT><p>Ünïcödé  總統府\u3000表示</p>\xa0"
        "<Style>p { color: red }</style><NOSCRIPT>enable it</noscript> İstanbul</html>"
    )
    assert (
        _visible_chars(html.encode()) == _visible_chars(html) == len("Ünïcödé 總統府 表示 İstanbul")
    )
    broken = html.encode() + b"\xe4\xb8<p>x</p>"
    assert _visible_chars(broken) == _visible_chars(broken.decode("utf-8", errors="replace"))


@pytest.mark.parametrize("name", ["incapsula-1566929327.html.gz", "incapsula-1685765130.html.gz"])
def test_real_incapsula_interstitials(name: str) -> None:
    assert is_challenge_page(page(PAGES / "challenges" / name), 200)


def test_articles_are_not_challenges() -> None:
    """Every real article fixture, including one that loads the Incapsula script."""
    articles = [p for p in PAGES.rglob("*.html.gz") if not p.name.startswith("incapsula-")]
    articles += sorted((SCRAPINGHUB / "html").glob("*.html.gz"))
    flagged = [p.name for p in articles if is_challenge_page(page(p), 200)]
    assert len(articles) >= 190
    assert flagged == []


# --- truncation -------------------------------------------------------------------------------


def test_paywall_teaser_looks_truncated(wapo_2024: ArticleText) -> None:
    teaser = dataclasses.replace(
        wapo_2024,
        paragraphs=(*wapo_2024.paragraphs[:2], "Subscribe to continue reading."),
    )
    assert looks_truncated(teaser, wapo_2024)


def test_teaser_with_cut_first_paragraph_looks_truncated(wapo_2024: ArticleText) -> None:
    first = wapo_2024.paragraphs[0]
    teaser = dataclasses.replace(wapo_2024, paragraphs=(first[: len(first) // 2] + "...",))
    assert looks_truncated(teaser, wapo_2024)


def test_real_paywalled_page_with_full_text_is_not_truncated(wapo_2024: ArticleText) -> None:
    """WaPo says isAccessibleForFree:false yet serves the whole story (OUTLETS.md lesson 5)."""
    assert wapo_2024.accessible_for_free is False
    assert not looks_truncated(wapo_2024, None)
    assert not looks_truncated(wapo_2024, wapo_2024)


def test_paywall_flag_with_tiny_body_is_truncated_without_history(wapo_2024: ArticleText) -> None:
    stub = dataclasses.replace(wapo_2024, paragraphs=wapo_2024.paragraphs[:1])
    assert looks_truncated(stub, None)
    assert not looks_truncated(dataclasses.replace(stub, accessible_for_free=None), None)


@pytest.mark.parametrize("keep", [slice(0, -3), slice(3, None)], ids=["end cut", "start cut"])
def test_ordinary_cuts_are_not_truncation(wapo_2024: ArticleText, keep: slice) -> None:
    """Removing a few paragraphs is an edit for the diff, not a collapse."""
    edited = dataclasses.replace(wapo_2024, paragraphs=wapo_2024.paragraphs[keep])
    assert not looks_truncated(edited, wapo_2024)


def test_unrelated_short_text_is_not_truncation(wapo_2024: ArticleText, cna: ArticleText) -> None:
    short = dataclasses.replace(cna, paragraphs=cna.paragraphs[:1], accessible_for_free=None)
    assert not looks_truncated(short, wapo_2024)


def test_empty_and_short_history_are_not_truncation(wapo_2024: ArticleText) -> None:
    empty = dataclasses.replace(wapo_2024, paragraphs=())
    assert not looks_truncated(empty, wapo_2024)
    short_history = dataclasses.replace(wapo_2024, paragraphs=wapo_2024.paragraphs[:3])
    teaser = dataclasses.replace(
        wapo_2024, paragraphs=wapo_2024.paragraphs[:1], accessible_for_free=None
    )
    assert not looks_truncated(teaser, short_history)


# --- regression gate --------------------------------------------------------------------------


def _precision_recall(truth: str, extracted: str) -> tuple[float, float]:
    """Bag-of-words token precision and recall (lower-cased `\\w+` tokens)."""
    expected = Counter(_TOKEN.findall(truth.lower()))
    got = Counter(_TOKEN.findall(extracted.lower()))
    overlap = sum((expected & got).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(expected.values()) if expected else 0.0
    return precision, recall


def test_scrapinghub_f1_regression_gate() -> None:
    """F1 over 181 real pages, scored like OUTLETS.md's baseline (mean P, mean R, then F1)."""
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text("utf-8"))
    scores = []
    for page_id, record in sorted(truth.items()):
        article = extract_article(page(SCRAPINGHUB / "html" / f"{page_id}.html.gz"), record["url"])
        scores.append(_precision_recall(record["articleBody"], "\n".join(article.paragraphs)))
    precision = statistics.mean(p for p, _ in scores)
    recall = statistics.mean(r for _, r in scores)
    f1 = 2 * precision * recall / (precision + recall)
    per_page_f1 = statistics.mean(2 * p * r / (p + r) if p + r else 0.0 for p, r in scores)
    summary = (
        f"scrapinghub pages={len(scores)} precision={precision:.4f} recall={recall:.4f} "
        f"f1={f1:.4f} mean_per_page_f1={per_page_f1:.4f} floor={F1_FLOOR} "
        f"extractor={EXTRACTOR_NAME} {EXTRACTOR_VERSION}"
    )
    print(summary)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "extraction-f1.txt").write_text(summary + "\n", "utf-8")
    assert len(scores) == 181
    assert f1 >= F1_FLOOR, summary


def test_presidential_office_roc_date_is_read_from_its_own_stamp() -> None:
    """div.pageDate1 "115-05-08" is 2026-05-08, not a date from the related-news carousel."""
    page = (
        Path(__file__).parent.parent
        / "crawler/demo/pages/state2/english.president.gov.tw/News/7133.html"
    )
    article = extract_article(page.read_bytes(), "https://english.president.gov.tw/News/7133")
    assert article.published == "2026-05-08" and not article.published_guessed
