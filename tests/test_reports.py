"""Report rendering: the JSON contract, escaping of page content, grouping, --all."""

from __future__ import annotations

import json

import jsonschema
import pytest

from crawler.reports.render import (
    SCHEMA,
    ChangeEntry,
    DiffLine,
    ErrorEntry,
    FollowupEntry,
    Report,
    VersionRef,
    markdown_quote,
    render,
    to_json,
)

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def change(kind: str, items: tuple[int, ...] = (), **extra) -> ChangeEntry:
    kinds = extra.pop("kinds", (kind,))
    return ChangeEntry(
        url="https://focustaiwan.tw/politics/202605100007",
        outlet="Focus Taiwan",
        kind=kind,
        kinds=kinds,
        significant=extra.pop("significant", kind in ("headline", "correction", "edit", "removed")),
        detected_at="2026-05-11T08:00:00+00:00",
        before=VersionRef("Peña wraps up visit", 1),
        after=VersionRef(extra.pop("title", "Peña wraps up visit"), 2),
        summary=extra.pop("summary", "1 paragraph changed; figure 30 → 45"),
        added=extra.pop("added", ("Imports estimated at up to US$45 million.",)),
        removed=extra.pop("removed", ("Imports estimated at about US$30 million.",)),
        watch_items=items,
        evidence={i: ("+ Imports estimated at up to US$45 million.",) for i in items},
        diff=(
            DiffLine(
                "changed",
                (
                    ("equal", "Imports estimated at "),
                    ("delete", "about US$30"),
                    ("insert", "up to US$45"),
                    ("equal", " million."),
                ),
            ),
        ),
        **extra,
    )


def report(*changes: ChangeEntry, follow_ups=(), errors=()) -> Report:
    return Report(
        slug="paraguay-pena-taiwan-2026",
        title="Peña in Taiwan",
        generated_at="2026-05-12T00:00:00+00:00",
        since="2026-05-11T00:00:00+00:00",
        watch_items=((1, "Whether Phase 1 progresses."), (2, "Whether poultry exports grow.")),
        changes=tuple(changes),
        follow_ups=tuple(follow_ups),
        errors=tuple(errors),
    )


FOLLOWUP = FollowupEntry(
    url="https://www.abc.com.py/politica/2026/06/01/x/",
    outlet="ABC Color",
    title="Comienza la construcción del centro de datos",
    published_at="2026-06-01T10:00:00-04:00",
    language="es",
    score=3.2,
    watch_items=(1,),
    evidence=("Comenzó la construcción de la primera fase de 10 MW.",),
    also_at=("https://www.ip.gov.py/ip/2026/06/01/y/",),
)
ERROR = ErrorEntry(
    url="https://www.taiwannews.com.tw/news/6358067",
    outlet="Taiwan News",
    state="failing",
    since="2026-05-11T07:00:00+00:00",
    consecutive_failures=3,
    last_error="HTTP 503",
)


def test_json_report_validates_against_its_schema() -> None:
    data = json.loads(
        render(
            report(change("edit", (2,)), change("cosmetic"), follow_ups=[FOLLOWUP], errors=[ERROR]),
            "json",
        )
    )
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert [c["kind"] for c in data["changes"]] == ["edit", "cosmetic"]  # JSON keeps everything
    assert data["follow_ups"][0]["watch_items"] == [1]


def test_schema_rejects_a_broken_report() -> None:
    data = to_json(report(change("edit")))
    data["changes"][0]["kind"] = "furniture"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(SCHEMA.read_text()))


def test_markdown_groups_by_watch_item_then_edits_then_unreachable() -> None:
    text = render(
        report(
            change("edit", (2,)),
            change("headline", title="New headline"),
            errors=[ERROR],
            follow_ups=[FOLLOWUP],
        ),
        "md",
    )
    item2 = text.index("## Watch item 2")
    edits = text.index("## Edits to cited sources")
    unreachable = text.index("## Unreachable sources")
    assert text.index("## Watch item 1") < item2 < edits < unreachable
    assert "US$45" in text[item2:edits]  # the linked edit sits under its item
    assert "New headline" in text[edits:unreachable]  # the unlinked one under edits
    assert "Taiwan News" in text[unreachable:] and "HTTP 503" in text[unreachable:]
    assert "Comienza la construcción" in text[:item2]  # follow-up under item 1
    assert "Also at: <https://www.ip.gov.py/ip/2026/06/01/y/>" in text


def test_quiet_kinds_are_hidden_unless_all() -> None:
    quiet = change("cosmetic", summary="Spacing only")
    dates = change("dates", summary="Date stamps moved")
    assert "Spacing only" not in render(report(quiet, dates), "md")
    assert "2 quiet (cosmetic, date-only" in render(report(quiet, dates), "md")
    assert "Spacing only" in render(report(quiet, dates), "md", include_all=True)
    assert "Date stamps moved" in render(report(quiet, dates), "html", include_all=True)


def test_rebaselines_and_unreported_reverts_are_quiet() -> None:
    rebaselined = change("rebaselined", summary="Re-extracted with 2.3.1+wd2")
    quiet_revert = change("reverted", kinds=("reverted", "minor"), summary="Reverted to v1")
    reported_revert = change("reverted", kinds=("reverted", "edit"), significant=True)
    assert rebaselined.quiet and quiet_revert.quiet and not reported_revert.quiet
    text = render(report(rebaselined, quiet_revert, reported_revert), "md")
    assert "Re-extracted" not in text and "Reverted to v1" not in text
    assert "`reverted, edit` · significant" in text
    assert "Re-extracted" in render(report(rebaselined), "md", include_all=True)


def test_html_escapes_page_content() -> None:
    hostile = change("headline", (1,), title=HOSTILE, summary=HOSTILE, added=(HOSTILE,))
    html = render(report(hostile), "html")
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "onerror=" in html  # shown as text
    assert "<script" not in html.lower()  # the report itself has no scripts at all
    assert "<ins>up to US$45</ins>" in html and "<del>about US$30</del>" in html


def test_html_links_only_http() -> None:
    bad = FollowupEntry(**{**FOLLOWUP.__dict__, "url": "javascript:alert(1)", "also_at": ()})
    html = render(report(follow_ups=[bad]), "html")
    assert 'href="javascript:' not in html and 'href="#"' in html


def test_markdown_neutralises_markup() -> None:
    assert markdown_quote("[click](http://evil) <b>x</b>") == r"\[click\](http://evil) \<b\>x\</b\>"
    text = render(report(change("edit", summary=HOSTILE)), "md")
    assert "<script>" not in text


def test_unknown_format_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="html, json, md"):
        render(report(), "pdf")
