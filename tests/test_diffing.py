"""The diff engine: paragraph alignment, word diffs, rewrites, the stored form."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.changes.classify import ChangeKind, classify
from crawler.changes.diffing import (
    REWRITE_SIMILARITY,
    ArticleDiff,
    ParagraphChange,
    Segment,
    diff_versions,
    word_diff,
)
from crawler.extract.article import ArticleText

REVISIONS = Path(__file__).parent / "fixtures" / "revisions"


def _sides(segments: tuple[Segment, ...]) -> tuple[str, str]:
    """Rebuild the old and the new text from a word diff."""
    old = "".join(s.text for s in segments if s.op != "insert")
    new = "".join(s.text for s in segments if s.op != "delete")
    return old, new


def _ops(diff: ArticleDiff) -> list[str]:
    """The paragraph operations of a diff, in order."""
    return [change.op for change in diff.paragraphs]


def _real_paragraphs(limit_bytes: int) -> list[str]:
    """Distinct real paragraphs from the revision fixtures, up to about `limit_bytes`."""
    seen: dict[str, None] = {}
    size = 0
    for path in sorted(REVISIONS.glob("*/*/v*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = " ".join(line.split())
            if len(line) > 80 and line not in seen:
                seen[line] = None
                size += len(line.encode()) + 2
                if size >= limit_bytes:
                    return list(seen)
    return list(seen)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Rescue teams evacuated 40 people.", "Rescue teams evacuated 50 people on Tuesday."),
        ("", "A whole new paragraph."),
        ("Gone entirely.", ""),
        ("新华社北京5月1日电，四十个人受伤。", "新华社北京5月1日电，五十个人受伤，两人死亡。"),
        ("Mixed 中文 and English, 3.5 MW.", "Mixed 中文 and Spanish, 3.5.5 MW."),
    ],
)
def test_word_diff_rebuilds_both_texts(a: str, b: str) -> None:
    """Equal + deleted runs give the old text, equal + inserted runs the new one."""
    assert _sides(word_diff(a, b)) == (a, b)


def test_word_diff_works_on_whole_words() -> None:
    """A changed word is replaced whole, not patched letter by letter."""
    segments = word_diff("The goverment fell.", "The government fell.")
    assert Segment("delete", "goverment") in segments
    assert Segment("insert", "government") in segments


def test_word_diff_chinese_uses_words() -> None:
    """Chinese is diffed on jieba words: the changed numeral word comes out whole."""
    segments = word_diff("当地医院共收治四十名伤者。", "当地医院共收治五十名伤者。", "zh")
    changed = [segment for segment in segments if segment.op != "equal"]
    assert changed == [Segment("delete", "四十名"), Segment("insert", "五十名")]


def test_identical_versions_give_an_empty_diff() -> None:
    """Nothing differs: every paragraph equal, no headline, byline or dates."""
    article = ArticleText("Title", ("One.", "Two."), {"h1": "Title"}, "By A", "2024", "2024")
    diff = diff_versions(article, article)
    assert diff.is_empty
    assert _ops(diff) == ["equal", "equal"]
    assert diff.similarity == 1.0


def test_moved_paragraph_reads_as_moved() -> None:
    """A paragraph taken from the top to the bottom is one "moved", not removed + added."""
    old = ArticleText("T", ("Alpha paragraph here.", "Beta paragraph here.", "Gamma here."))
    new = ArticleText("T", ("Beta paragraph here.", "Gamma here.", "Alpha paragraph here."))
    diff = diff_versions(old, new)
    moved = [change for change in diff.paragraphs if change.op == "moved"]
    assert sorted(_ops(diff)) == ["equal", "equal", "moved"]
    assert moved[0].old == "Alpha paragraph here." and moved[0].segments == ()
    assert (moved[0].old_index, moved[0].new_index) == (0, 2)


def test_similar_paragraphs_pair_as_changed_with_a_word_diff() -> None:
    """An edited paragraph is "changed" with its word diff; a new one is "added"."""
    old = ArticleText("T", ("The dam gave way on Tuesday night.", "Nobody was hurt."))
    new = ArticleText(
        "T", ("The dam gave way on Monday night.", "Nobody was hurt.", "More rain is due.")
    )
    diff = diff_versions(old, new)
    assert _ops(diff) == ["changed", "equal", "added"]
    changed = diff.paragraphs[0]
    assert (changed.old_index, changed.new_index) == (0, 0)
    assert [s for s in changed.segments if s.op != "equal"] == [
        Segment("delete", "Tuesday"),
        Segment("insert", "Monday"),
    ]


def test_split_paragraph_is_one_change_of_breaks() -> None:
    """A paragraph split in two is one "changed" entry whose diff only moves a break."""
    old = ArticleText("T", ("First sentence here. Second sentence here.",))
    new = ArticleText("T", ("First sentence here.", "Second sentence here."))
    diff = diff_versions(old, new)
    assert _ops(diff) == ["changed"]
    inserted = "".join(s.text for s in diff.paragraphs[0].segments if s.op == "insert")
    assert inserted.strip() == ""


def test_furniture_never_reaches_the_diff() -> None:
    """Editor codes and share prompts are left out; indexes still point into the article."""
    old = ArticleText("T", ("Share this article", "The story.", "Enditem/AW"))
    new = ArticleText("T", ("The story.", "Enditem/ls"))
    diff = diff_versions(old, new)
    assert diff.is_empty
    assert [(c.old_index, c.new_index) for c in diff.paragraphs] == [(1, 0)]


def test_headlines_byline_and_dates() -> None:
    """Changed headline variants (title as "headline"), byline and stamps are recorded."""
    old = ArticleText("A", (), {"h1": "A", "og:title": "A | Site"}, "By X", "2024-01-01", None)
    new = ArticleText(
        "B", (), {"h1": "B", "og:title": "A | Site"}, "By Y", "2024-01-01", "2024-01-02"
    )
    diff = diff_versions(old, new)
    assert diff.headlines == {"headline": ("A", "B"), "h1": ("A", "B")}
    assert diff.byline == ("By X", "By Y")
    assert diff.dates == {"modified": (None, "2024-01-02")}
    assert not diff.is_empty


def test_unrelated_texts_are_rewritten_without_word_diff() -> None:
    """Two unrelated 200 KB bodies: rewritten, no paragraph paired, no word diff attempted."""
    paragraphs = _real_paragraphs(400_000)
    half = len(paragraphs) // 2
    old, new = (
        ArticleText("T", tuple(paragraphs[:half])),
        ArticleText("T", tuple(paragraphs[half:])),
    )
    assert len(old.text) > 150_000 and len(new.text) > 150_000
    diff = diff_versions(old, new)
    assert diff.rewritten
    assert diff.similarity < REWRITE_SIMILARITY
    assert "changed" not in _ops(diff)
    result = classify(old, new, diff)  # the corpus text holds a real correction note too
    assert result is not None and ChangeKind.EDIT in result.kinds and result.significant


def _edited_copy(paragraphs: list[str], seed: int) -> tuple[list[str], dict[str, set[int]]]:
    """30 edits on real paragraphs: 10 figures added, 10 words replaced, 5 removed, 5 added."""
    rng = random.Random(seed)
    picks = rng.sample(range(len(paragraphs)), 30)
    edited = dict(enumerate(paragraphs))
    for index in picks[:10]:
        edited[index] += " The toll rose to 4817 on Friday."
    for index in picks[10:20]:
        words = edited[index].split()
        words[len(words) // 2] = "Zanzibar"
        edited[index] = " ".join(words)
    for index in picks[20:25]:
        del edited[index]
    new: list[str] = []
    for index, text in edited.items():
        if index in picks[25:30]:
            new.append(f"A brand new paragraph number {index} about the flood relief effort.")
        new.append(text)
    return new, {"changed": set(picks[:20]), "removed": set(picks[20:25])}


def test_200kb_article_with_30_edits_diffs_correctly() -> None:
    """A 200 KB real-text article with ~30 edits: exactly the edited paragraphs differ."""
    paragraphs = _real_paragraphs(200_000)
    new_paragraphs, expected = _edited_copy(paragraphs, seed=7)
    old, new = ArticleText("T", tuple(paragraphs)), ArticleText("T", tuple(new_paragraphs))
    assert len(old.text.encode()) > 190_000
    diff = diff_versions(old, new)
    by_op: dict[str, set[int]] = {}
    for change in diff.paragraphs:
        index = change.old_index if change.old_index is not None else change.new_index
        by_op.setdefault(change.op, set()).add(index)
    assert by_op["changed"] == expected["changed"]
    assert by_op["removed"] == expected["removed"]
    assert len(by_op["added"]) == 5
    assert not diff.rewritten
    for change in diff.paragraphs:
        if change.op == "changed":
            assert _sides(change.segments) == (change.old, change.new)
    result = classify(old, new, diff)
    assert result is not None and result.kind is ChangeKind.EDIT
    assert ("", "4817") in result.numbers


def test_to_json_from_json_round_trip() -> None:
    """A diff stored as JSON comes back equal, through a real JSON encode/decode."""
    old = ArticleText("A", ("Keep.", "Move me.", "Edit 40 here.", "Drop."), {"h1": "A"}, "X")
    new = ArticleText("B", ("Move me.", "Keep.", "Edit 50 here.", "New."), {"h1": "B"}, "Y", "2024")
    diff = diff_versions(old, new)
    restored = ArticleDiff.from_json(json.loads(json.dumps(diff.to_json())))
    assert restored == diff
    assert isinstance(restored.paragraphs[0], ParagraphChange)
    assert restored.byline == ("X", "Y")


def test_pure_modules_import_neither_scrapy_nor_sqlalchemy() -> None:
    """Diffing and classification stay testable on plain values (COMMON rules)."""
    code = (
        "import sys, crawler.changes.diffing, crawler.changes.classify, crawler.changes.segment; "
        "print(sorted(m for m in ('scrapy', 'sqlalchemy') if m in sys.modules))"
    )
    root = Path(__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
