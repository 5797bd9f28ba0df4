"""Derived matcher data kept on this machine's disk, so a new matcher process reads it back
instead of computing it again: the loaded sentence encoder (`encoder`) and events' profiles
(`process.keyed_profile`).

Every watchdesk command that matches spawns a matcher process of its own
(`crawler.matching.process`, shared by that command's crawls: `crawler.shared_pools`), so
without this every command paid the encoder's load (~2.2 s of CPU here) and each event's
profile (its card's and cited articles' sentences embedded, ~0.5–0.8 s) again. These files
are a cache, never state: a missing, damaged or foreign file is rebuilt, a folder that
cannot be written only costs the computation, and two processes writing one name each
write it whole (`os.replace`). Every machine builds its own; nothing here is shared
through the store.

Files are pickles written only by watchdesk, mode 0600, in the user's own cache folder:
whoever can write there can already run code as that user. Pure: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, TypeVar

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


def cache_folder() -> Path:
    """WATCHDESK_CACHE_DIR, else `$XDG_CACHE_HOME/watchdesk` (`~/.cache/watchdesk`).

    Reads: WATCHDESK_CACHE_DIR, XDG_CACHE_HOME.
    """
    folder = os.environ.get("WATCHDESK_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "watchdesk"
    )
    return Path(folder)


def read(path: Path, kind: type[T] | tuple[type, ...]) -> T | None:
    """The object pickled at `path` if it is a `kind`; None when absent or unusable."""
    try:
        with path.open("rb") as file:
            value = pickle.load(file)  # noqa: S301 - written by `write` only, see the module
    except FileNotFoundError:
        return None
    except Exception as error:  # a truncated or foreign file: the caller builds it again
        LOGGER.warning("unreadable cache file %s (%s); rebuilding it", path, error)
        return None
    if not isinstance(value, kind):
        LOGGER.warning("cache file %s holds a %s; rebuilding it", path, type(value).__name__)
        return None
    return value  # type: ignore[return-value]


def write(value: Any, path: Path, *, keep: int | None = None) -> None:
    """Pickle `value` to `path` atomically; with `keep`, then remove all but the `keep`
    newest files of its folder (profiles change with their events: old ones pile up)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
            try:
                pickle.dump(value, file, protocol=5)
            except Exception:
                os.unlink(file.name)
                raise
        os.replace(file.name, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
        LOGGER.info("cache file %s not written: %s", path, error)
        return
    if keep is not None:
        _prune(path.parent, keep)


def _prune(folder: Path, keep: int) -> None:
    """Remove all but the `keep` most recently written files of `folder`."""
    try:
        files = sorted(folder.glob("*.pickle"), key=lambda f: f.stat().st_mtime, reverse=True)
        for stale in files[keep:]:
            stale.unlink(missing_ok=True)
    except OSError as error:  # another process pruned first
        LOGGER.debug("cache folder %s not pruned: %s", folder, error)
