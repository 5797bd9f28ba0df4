"""Event cards: the seed card, its YAML twin, a re-added changed card, and broken cards.

Expected values are copied by hand from tests/fixtures/cards/paraguay-pena-taiwan-2026.md
(a verbatim copy of ../shared/examples/event-card.md); broken-card line numbers are in
tests/cases/broken_cards.yaml, counted by hand in the fixture files.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from crawler.cards.markdown import parse_markdown_card
from crawler.cards.model import (
    MAX_CARD_BYTES,
    MAX_OUTLET_CHARS,
    MAX_REGION_CHARS,
    MAX_TYPE_CHARS,
    Card,
    CardError,
    card_digest,
    entity_name,
)
from crawler.cards.parse import parse_card
from crawler.cards.yaml_card import parse_yaml_card
from crawler.fetch.urls import url_key

CARDS = Path(__file__).parent / "fixtures" / "cards"
SEED_MD = CARDS / "paraguay-pena-taiwan-2026.md"
SEED_YAML = CARDS / "paraguay-pena-taiwan-2026.yaml"
CHANGED_MD = CARDS / "paraguay-pena-taiwan-2026-v2.md"
BROKEN = yaml.safe_load((Path(__file__).parent / "cases" / "broken_cards.yaml").read_text())

WATCH_TEXTS = (
    "Whether Phase 1 of the AI data centre MOU progresses from signature to actual construction "
    "and commissioning.",
    "Whether Taiwan's poultry market opening translates into measurable Paraguayan export volumes.",
    "Whether China increases diplomatic pressure on Paraguay in response to the visit and the "
    "computing MOU.",
    "Whether the mutual legal assistance treaty is ratified by both parliaments and used in any "
    "concrete extradition or evidence-sharing request.",
)
ABC_INTERVIEW = (
    "https://www.abc.com.py/politica/2026/05/31/data-center-ia-paraguay-taiwan-en-dialogo-con-abc"
    "-experto-cita-aspectos-polemicos-del-acuerdo/"
)

#: A minimal valid card; {url} is the only Source line (line 7).
TEMPLATE = """# A small card
> A lede with a [link](/zh/entity/taiwan).

## Regional takes
### unlabelled
- **Focus Taiwan** (Asia, en) —
  Source: {url}

## What to watch
- Whether the small card is stored.

---
Canonical: https://rbtfl.xyz/zh/n/small-card
"""


@pytest.fixture(scope="module")
def seed() -> Card:
    return parse_card(SEED_MD.read_bytes(), name=SEED_MD.name)


@pytest.fixture(scope="module")
def seed_yaml() -> Card:
    return parse_card(SEED_YAML.read_bytes(), name=SEED_YAML.name)


def _without_yaml_extras(card: Card) -> Card:
    """Drop what only the YAML layout can hold (match terms, entity aliases)."""
    items = tuple(dataclasses.replace(w, terms={}) for w in card.watch_items)
    return dataclasses.replace(card, watch_items=items, extra_entity_terms={})


# --- the seed card ---------------------------------------------------------------------------


def test_seed_identity_and_meta(seed: Card) -> None:
    assert seed.slug == "paraguay-pena-taiwan-2026"
    assert seed.canonical_url == "https://rbtfl.xyz/zh/n/paraguay-pena-taiwan-2026"
    assert seed.title.startswith("Paraguay President Peña signs three agreements with Taiwan")
    assert seed.title.endswith("on a May state visit")
    assert seed.lede is not None
    assert seed.lede.startswith("Paraguay President Santiago Peña met Taiwan President Lai")
    assert seed.lede.endswith("opened its market to Paraguayan poultry exports")
    assert (seed.type, seed.date) == ("event", "2026-05-08")
    assert seed.meta == {
        "type": "event",
        "date": "2026-05-08",
        "heads": "长远之局, 谁的钱",
        "takes": "7",
        "lenses": "5",
        "regions": "3",
    }


def test_seed_watch_items(seed: Card) -> None:
    assert [w.number for w in seed.watch_items] == [1, 2, 3, 4]
    assert tuple(w.text for w in seed.watch_items) == WATCH_TEXTS
    assert all(w.terms == {} for w in seed.watch_items)


def test_seed_sources_in_order(seed: Card) -> None:
    got = [(s.outlet, s.region, s.language) for s in seed.sources]
    assert got == [
        ("Taiwan Presidential Office", "Asia", "en"),
        ("Paraguay Agencia IP", "Paraguay", "en"),
        ("Washington Post", "United States", "en"),
        ("ABC Color", "Paraguay", "es"),
        ("Focus Taiwan", "Asia", "en"),
        ("Taiwan News", "Asia", "en"),
        ("ABC Color", "Paraguay", "es"),
    ]
    assert [s.line for s in seed.sources] == [36, 41, 46, 51, 55, 57, 59]


def test_seed_source_with_take_and_quote(seed: Card) -> None:
    office = seed.sources[0]
    assert office.url == "https://english.president.gov.tw/News/7133"
    assert office.lens == (
        "Authoritative record of the bilateral talks and document signings between the two "
        "presidents"
    )
    assert office.take is not None
    assert office.take.startswith("Official record of the meeting between President Lai Ching-te")
    assert office.take.endswith("Taiwan opened its market to Paraguayan poultry (chicken) exports.")
    assert office.quote == (
        "President Lai and President Peña of Paraguay hold bilateral talks, witness signings of "
        "mutual legal assistance treaty, cybersecurity MOU, and Sovereign AI and Computing MOU."
    )
    wapo = seed.sources[2]
    assert wapo.url.endswith("/b98b6f82-49d7-11f1-a119-857cd2bf4fd4_story.html")
    assert wapo.quote is not None and not wapo.quote.startswith('"')


def test_seed_unlabelled_sources_have_empty_takes(seed: Card) -> None:
    focus, taiwan_news, abc = seed.sources[4:]
    assert focus.url == "https://focustaiwan.tw/politics/202605100007"
    assert taiwan_news.url == "https://www.taiwannews.com.tw/news/6358067"
    assert abc.url == ABC_INTERVIEW
    for source in (focus, taiwan_news, abc):
        assert (source.lens, source.take, source.quote) == (None, None, None)


def test_seed_entities_summary_and_sections(seed: Card) -> None:
    assert seed.entities == ("Paraguay", "Taiwan Strait")
    assert seed.summary.startswith("Paraguay President Santiago Peña made a state visit")
    assert "](" not in seed.summary
    assert set(seed.sections) == {"The split", "By the numbers", "Why it matters"}
    numbers = seed.sections["By the numbers"].split("\n")
    assert numbers[0] == "- 3, formal instruments signed during the May 8 bilateral meeting"
    assert len(numbers) == 5
    assert seed.extra_entity_terms == {}


# --- YAML twin, detection, digest ------------------------------------------------------------


def test_yaml_twin_equals_markdown(seed: Card, seed_yaml: Card) -> None:
    shared = [f.name for f in dataclasses.fields(Card) if f.name != "extra_entity_terms"]
    plain = _without_yaml_extras(seed_yaml)
    for name in shared:
        if name != "sources":
            assert getattr(plain, name) == getattr(seed, name), name
    strip_line = [dataclasses.replace(s, line=0) for s in seed_yaml.sources]
    assert strip_line == [dataclasses.replace(s, line=0) for s in seed.sources]
    assert card_digest(plain) == card_digest(seed)


def test_yaml_only_fields(seed_yaml: Card) -> None:
    assert seed_yaml.watch_items[0].terms == {
        "en": ("data centre", "data center"),
        "es": ("centro de datos",),
        "zh": ("資料中心", "数据中心"),
    }
    assert seed_yaml.extra_entity_terms["Taiwan Strait"][-1] == "台湾海峡"
    assert seed_yaml.sources[0].line == 57  # the `url:` line of the first source


def test_format_detected_without_file_suffix(seed: Card, seed_yaml: Card) -> None:
    from_md = parse_card(SEED_MD.read_text(encoding="utf-8"))
    from_yaml = parse_card(SEED_YAML.read_text(encoding="utf-8"))
    assert from_md == seed
    assert card_digest(from_yaml) == card_digest(seed_yaml)
    assert parse_markdown_card(SEED_MD.read_bytes(), name="x") == seed
    assert parse_yaml_card(SEED_YAML.read_bytes(), name="x").slug == seed.slug


def test_digest_ignores_whitespace_and_line_ends(seed: Card) -> None:
    text = SEED_MD.read_text(encoding="utf-8")
    messy = "\ufeff\n" + text.replace("\n", "  \r\n").replace("## Summary", "## Summary\r\n\r\n")
    card = parse_card(messy.encode("utf-8"), name="messy.md")
    assert card_digest(card) == card_digest(seed)
    assert [s.line for s in card.sources] != [s.line for s in seed.sources]  # lines moved
    assert len(card_digest(seed)) == 64


def test_changed_card_differs_as_edited(seed: Card) -> None:
    changed = parse_card(CHANGED_MD.read_bytes(), name=CHANGED_MD.name)
    assert card_digest(changed) != card_digest(seed)
    before = {url_key(s.url) for s in seed.sources}
    after = {url_key(s.url) for s in changed.sources}
    assert before - after == {"https://taiwannews.com.tw/news/6358067"}
    assert after - before == {"https://focustaiwan.tw/cross-strait/202605120015"}
    assert [w.number for w in changed.watch_items] == [1, 2, 3, 4, 5]
    same = [w.text for w in changed.watch_items if w.text in WATCH_TEXTS]
    assert same == [WATCH_TEXTS[0], WATCH_TEXTS[1], WATCH_TEXTS[3]]
    assert changed.watch_items[2].text.startswith("Whether China escalates diplomatic or trade")
    assert changed.watch_items[4].text.startswith("Whether Paraguay's Congress debates")


# --- broken cards ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_card(case: str) -> None:
    spec = BROKEN[case]
    path = CARDS / "broken" / spec["file"]
    with pytest.raises(CardError) as caught:
        parse_card(path.read_bytes(), name=path.name)
    where = path.name if spec["line"] is None else f"{path.name} line {spec['line']}"
    assert caught.value.line == spec["line"]
    assert str(caught.value).startswith(f"{where}: ")
    assert spec["error"] in caught.value.reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://ftp.example.com/pub/card.txt", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("data:text/html,<script>alert(1)</script>", "scheme 'data'"),
        ("mailto:desk@example.com", "scheme 'mailto'"),
        ("JavaScript:alert(1)", "scheme 'javascript'"),
        ("focustaiwan.tw/politics/202605100007", "scheme '(none)'"),
        ("https:///politics/202605100007", "no host"),
        ("https://editor:secret@focustaiwan.tw/politics/1", "credentials"),
        ("https://focustaiwan.tw/a b", "whitespace"),
        ("https://focustaiwan.tw:99999/a", "malformed"),
    ],
)
def test_source_url_refused(url: str, reason: str) -> None:
    with pytest.raises(CardError) as caught:
        parse_card(TEMPLATE.format(url=url), name="small.md")
    assert caught.value.line == 7
    assert reason in caught.value.reason


def test_template_itself_is_valid() -> None:
    card = parse_card(TEMPLATE.format(url="https://focustaiwan.tw/politics/202605100007"))
    assert (card.slug, card.lede, card.entities) == ("small-card", "A lede with a link.", ())


def test_size_cap() -> None:
    big = TEMPLATE.format(url="https://focustaiwan.tw/a") + "x" * MAX_CARD_BYTES
    with pytest.raises(CardError, match="limit"):
        parse_card(big.encode("utf-8"), name="big.md")


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"# Title\n\x00\n", "contains NUL bytes"), (b" \n\t\n", "card is empty"), (b"", "empty")],
)
def test_not_a_card(data: bytes, reason: str) -> None:
    with pytest.raises(CardError) as caught:
        parse_card(data, name="x.md")
    assert reason in caught.value.reason
    assert caught.value.line is None


def test_second_source_line_for_one_take() -> None:
    text = TEMPLATE.format(url="https://focustaiwan.tw/a\n  Source: https://focustaiwan.tw/b")
    with pytest.raises(CardError, match="line 8: second Source line for one take"):
        parse_card(text, name="small.md")


def test_yaml_entity_terms_must_name_listed_entities() -> None:
    text = SEED_YAML.read_text(encoding="utf-8").replace(
        "  Paraguay: [Paraguay, 巴拉圭]", "  Paraguy: [x]"
    )
    with pytest.raises(CardError) as caught:
        parse_card(text, name="typo.yaml")
    assert (caught.value.line, "'Paraguy'" in caught.value.reason) == (40, True)


def test_yaml_terms_language_code_checked() -> None:
    text = SEED_YAML.read_text(encoding="utf-8").replace(
        "      es: [centro", "      Spanish: [centro"
    )
    with pytest.raises(CardError, match="'Spanish' is not a language code"):
        parse_card(text, name="lang.yaml")


# --- leniency --------------------------------------------------------------------------------


def test_markdown_terms_continuations_and_extra_sections() -> None:
    text = """

#   Lenient card
> First lede line
> and its second line.

**Meta:**  type: event ·date: 2026-05-08· 2 takes

## Timeline
- 8 May: signing

## What to watch
1. Whether the [data centre](/zh/entity/data-centre) is built
   before 2027.
   Terms (en): data centre, data center
   - Terms (zh): 資料中心，数据中心

## Sources
- **Focus Taiwan** (en) — Reported the signing,
  with a second line of take.
  > “Peña signs three deals.”
  Source: https://focustaiwan.tw/politics/202605100007
- **ABC Color** (Paraguay) -
  Source: https://www.abc.com.py/a

## Across the graph
- Entities: person:lai ching-te, Place:ciudad del este
- Related: paraguay-taiwan-trade

***
Canonical: https://rbtfl.xyz/zh/n/lenient-card/
Updated: 2026-05-09
"""
    card = parse_card(text)
    assert (card.title, card.lede, card.slug) == (
        "Lenient card",
        "First lede line and its second line.",
        "lenient-card",
    )
    assert card.meta == {"type": "event", "date": "2026-05-08", "takes": "2"}
    (item,) = card.watch_items
    assert item.text == "Whether the data centre is built before 2027."
    assert item.terms == {"en": ("data centre", "data center"), "zh": ("資料中心", "数据中心")}
    focus, abc = card.sources
    assert (focus.region, focus.language, focus.lens) == (None, "en", None)
    assert focus.take == "Reported the signing, with a second line of take."
    assert focus.quote == "Peña signs three deals."
    assert (abc.region, abc.language, abc.take) == ("Paraguay", None, None)
    assert card.entities == ("Lai Ching-te", "Ciudad del Este")
    assert card.sections == {
        "Timeline": "- 8 May: signing",
        "Across the graph": "- Related: paraguay-taiwan-trade",
    }


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Place:taiwan Strait", "Taiwan Strait"),
        ("taiwan strait", "Taiwan Strait"),
        ("Paraguay", "Paraguay"),
        ("Org:iPhone makers", "iPhone makers"),
        ("Place:台灣海峽", "台灣海峽"),
        ("  Person:Santiago Peña ", "Santiago Peña"),
    ],
)
def test_entity_name(raw: str, name: str) -> None:
    assert entity_name(raw) == name


def test_card_error_carries_parts() -> None:
    error = CardError("Source line has no URL", line=42, name="card.md")
    assert str(error) == "card.md line 42: Source line has no URL"
    assert (error.line, error.name, error.reason) == (42, "card.md", "Source line has no URL")
    assert isinstance(error, ValueError)


def test_card_modules_stay_pure() -> None:
    code = (
        "import sys, crawler.cards.parse, crawler.fetch.urls; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "body",
    [
        "## Summary\n" + "[a" * 150_000,  # unclosed links: quadratic with a naive link pattern
        "## What to watch\n-" + " " * 300_000 + "x" + " " * 300_000,
        "## Sources\n- **A** (" + " " * 300_000 + "en) — x\n  Source:" + " " * 300_000 + "x",
    ],
    ids=["link-bomb", "space-bullet", "space-take"],
)
def test_hostile_input_stays_linear(body: str) -> None:
    started = time.perf_counter()
    with pytest.raises(CardError):
        parse_card(f"# Title\n{body}\n", name="hostile.md")
    assert time.perf_counter() - started < 5  # backtracking would take minutes


# --- what the store can keep ------------------------------------------------------------------


def test_length_limits_match_the_store_columns() -> None:
    from storage.models import Event, Outlet, Source

    assert Event.__table__.c.type.type.length == MAX_TYPE_CHARS
    assert Source.__table__.c.outlet_name.type.length == MAX_OUTLET_CHARS
    assert Outlet.__table__.c.name.type.length == MAX_OUTLET_CHARS
    assert Source.__table__.c.region.type.length == MAX_REGION_CHARS


def test_over_long_outlet_name_is_refused_at_its_line() -> None:
    card = TEMPLATE.format(url="https://focustaiwan.tw/a").replace(
        "Focus Taiwan", "Focus " + "T" * MAX_OUTLET_CHARS
    )
    with pytest.raises(CardError) as caught:
        parse_card(card, name="long.md")
    assert caught.value.line == 6  # the take bullet naming the outlet
    assert f"outlet name is {MAX_OUTLET_CHARS + 6} characters long" in caught.value.reason
    exact = TEMPLATE.format(url="https://focustaiwan.tw/a").replace(
        "Focus Taiwan", "F" * MAX_OUTLET_CHARS
    )
    assert parse_card(exact, name="exact.md").sources[0].outlet == "F" * MAX_OUTLET_CHARS


def test_over_long_outlet_and_region_refused_in_yaml() -> None:
    text = SEED_YAML.read_text(encoding="utf-8")
    first = "outlet: Taiwan Presidential Office"
    assert first in text
    with pytest.raises(CardError, match="outlet name is 250 characters long") as caught:
        parse_card(text.replace(first, "outlet: " + "x" * 250), name="long.yaml")
    assert caught.value.line == text[: text.index(first)].count("\n") + 1
    region = "region: Asia"
    assert region in text
    with pytest.raises(CardError, match="region is 101 characters long"):
        parse_card(text.replace(region, "region: " + "r" * 101, 1), name="long.yaml")


def test_over_long_type_is_refused() -> None:
    text = SEED_MD.read_text(encoding="utf-8")
    assert "type: event ·" in text
    with pytest.raises(CardError, match="type is 60 characters long") as caught:
        parse_card(text.replace("type: event ·", "type: " + "e" * 60 + " ·", 1), name="t.md")
    assert caught.value.line == 4  # the meta line


def test_card_without_watch_items_is_refused() -> None:
    bare = TEMPLATE.format(url="https://focustaiwan.tw/a").replace(
        "## What to watch\n- Whether the small card is stored.\n\n", ""
    )
    with pytest.raises(CardError) as caught:
        parse_card(bare, name="bare.md")
    assert str(caught.value).startswith("bare.md: card 'small-card' has no watch items")
    empty_section = TEMPLATE.format(url="https://focustaiwan.tw/a").replace(
        "- Whether the small card is stored.\n", ""
    )
    with pytest.raises(CardError, match="no watch items") as caught:
        parse_card(empty_section, name="empty.md")
    assert caught.value.line == 9  # the "## What to watch" heading
    text = SEED_YAML.read_text(encoding="utf-8")
    no_watch = text[: text.index("\nwatch:")] + text[text.index("\nsources:") :]
    with pytest.raises(CardError, match="card 'paraguay-pena-taiwan-2026' has no watch items"):
        parse_card(no_watch, name="seed.yaml")
