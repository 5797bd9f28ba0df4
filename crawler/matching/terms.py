"""The optional editor overrides file: terms and aliases that boost the matcher.

The matcher needs nothing hand-written (issue 9); an editor may still add aliases of the
event's names (they become names the matcher looks for) and per-item terms in any language
(a sentence holding one counts more for that item). `thresholds`, `require`, `event_terms`,
`support` and `exclude` are accepted so older files still load, and are not used.

The overrides file (one per event, e.g. `crawler/demo/terms/paraguay-pena-taiwan-2026.yaml`)::

    event: paraguay-pena-taiwan-2026     # optional; the event's slug, for humans
    thresholds: {event: 2.0, item: 1.0}  # accepted, unused since issue 9
    entities:                            # name -> aliases in any language, or a mapping
      Paraguay: [Paraguay, paraguayo, 巴拉圭]
      China: {aliases: [China, 中國], not: [Republic of China, 中國國民黨]}
    require: [[Paraguay, Taiwan]]        # on-topic needs ALL names of ANY one group
    event_terms: {en: [state visit], es: [visita de Estado], zh: [國是訪問]}
    items:
      1:
        terms: {en: [data centre], es: [centro de datos], zh: [資料中心]}   # strong terms
        support: {es: [construcción]}   # supporting words: they add score, never link alone
        exclude: [signature]            # automatic terms (from the item text) to drop
        require: [[Paraguay, Taiwan]]   # replaces the event-level groups for this item

`not` phrases are spans that look like an alias but name something else ("Republic of China"
is Taiwan, "中國國民黨" is Taiwan's KMT); a `not` match hides the alias inside it.
`load_overrides` returns a JSON-safe dict (item keys as strings) because callers store it in
the database as JSON; `normalise_overrides` accepts that stored form again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_TOP_KEYS = frozenset({"event", "thresholds", "entities", "require", "event_terms", "items"})
_ITEM_KEYS = frozenset({"terms", "support", "exclude", "require"})


def load_overrides(path_or_text: str | Path) -> dict[str, Any]:
    """Read and check an editor overrides file.

    Args:
        path_or_text: a `Path`, a path string naming an existing ``.yaml``/``.yml`` file, or
            the YAML text itself.

    Returns:
        The overrides as a JSON-safe dict (see the module docstring for the format).

    Raises:
        ValueError: the YAML does not parse or does not have the documented shape; the
            message names the offending key path.
    """
    text = _read(path_or_text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"overrides: not valid YAML ({exc})") from exc
    if data is None:
        return normalise_overrides({})
    return normalise_overrides(data)


def _read(path_or_text: str | Path) -> str:
    """The overrides text, from a file when the argument names one."""
    if isinstance(path_or_text, Path):
        return path_or_text.read_text(encoding="utf-8")
    looks_like_path = "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml"))
    if looks_like_path and Path(path_or_text).is_file():
        return Path(path_or_text).read_text(encoding="utf-8")
    return path_or_text


def normalise_overrides(data: Any) -> dict[str, Any]:
    """Check `data` (parsed YAML or the stored JSON form) and return the canonical dict."""
    top = _mapping(data, "overrides")
    _known_keys(top, _TOP_KEYS, "overrides")
    out: dict[str, Any] = {}
    if "event" in top:
        out["event"] = _string(top["event"], "event")
    out["thresholds"] = _thresholds(top.get("thresholds", {}))
    out["entities"] = {
        _string(name, "entities"): _entity(spec, f"entities.{name}")
        for name, spec in _mapping(top.get("entities", {}), "entities").items()
    }
    out["require"] = _groups(top.get("require", []), "require")
    out["event_terms"] = _lang_terms(top.get("event_terms", {}), "event_terms")
    out["items"] = {
        str(_item_number(key)): _item(spec, f"items.{key}")
        for key, spec in _mapping(top.get("items", {}), "items").items()
    }
    return out


def _item(spec: Any, where: str) -> dict[str, Any]:
    """One item's overrides: strong and supporting terms, exclusions, required groups."""
    spec = _mapping(spec, where)
    _known_keys(spec, _ITEM_KEYS, where)
    out: dict[str, Any] = {
        "terms": _lang_terms(spec.get("terms", {}), f"{where}.terms"),
        "support": _lang_terms(spec.get("support", {}), f"{where}.support"),
        "exclude": list(_strings(spec.get("exclude", []), f"{where}.exclude")),
    }
    if "require" in spec:
        out["require"] = _groups(spec["require"], f"{where}.require")
    return out


def _entity(spec: Any, where: str) -> dict[str, list[str]]:
    """An entity as `{aliases, not}`, from either the list or the mapping form."""
    if isinstance(spec, Mapping):
        _known_keys(spec, frozenset({"aliases", "not"}), where)
        aliases = _strings(spec.get("aliases", []), f"{where}.aliases")
        blocked = _strings(spec.get("not", []), f"{where}.not")
    else:
        aliases, blocked = _strings(spec, where), []
    if not aliases:
        raise ValueError(f"overrides: {where}: an entity needs at least one alias")
    return {"aliases": list(aliases), "not": list(blocked)}


def _thresholds(spec: Any) -> dict[str, float]:
    """Optional score thresholds; only `event` and `item`, positive numbers."""
    spec = _mapping(spec, "thresholds")
    _known_keys(spec, frozenset({"event", "item"}), "thresholds")
    out = {}
    for key, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"overrides: thresholds.{key}: expected a positive number")
        out[key] = float(value)
    return out


def _lang_terms(spec: Any, where: str) -> dict[str, list[str]]:
    """Terms by language code ("en", "es", "zh")."""
    out = {}
    for lang, terms in _mapping(spec, where).items():
        if not isinstance(lang, str) or not _LANG_RE.match(lang):
            raise ValueError(f"overrides: {where}: {lang!r} is not a language code like 'es'")
        out[lang] = list(_strings(terms, f"{where}.{lang}"))
    return out


def _groups(spec: Any, where: str) -> list[list[str]]:
    """Required co-occurrence groups: a list of lists of entity names."""
    if not isinstance(spec, list) or not all(isinstance(g, list) and g for g in spec):
        raise ValueError(f"overrides: {where}: expected a list of entity-name lists")
    return [list(_strings(group, where)) for group in spec]


def _item_number(key: Any) -> int:
    """Item keys are the card's 1-based item numbers (YAML ints, or strings from JSON)."""
    if isinstance(key, int) and not isinstance(key, bool) and key > 0:
        return key
    if isinstance(key, str) and key.isdigit() and int(key) > 0:
        return int(key)
    raise ValueError(f"overrides: items: {key!r} is not a watch item number")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A list of non-empty strings (numbers such as `10 MW` written bare are refused)."""
    if not isinstance(value, list):
        raise ValueError(f"overrides: {where}: expected a list of strings")
    return tuple(_string(v, where) for v in value)


def _string(value: Any, where: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"overrides: {where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _mapping(value: Any, where: str) -> Mapping[Any, Any]:
    """A mapping, or a clear error naming where one was expected."""
    if not isinstance(value, Mapping):
        raise ValueError(f"overrides: {where}: expected a mapping, got {type(value).__name__}")
    return value


def _known_keys(spec: Mapping[Any, Any], allowed: frozenset[str], where: str) -> None:
    """Refuse unknown keys: a misspelt `suport:` must not be silently ignored."""
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise ValueError(
            f"overrides: {where}: unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(allowed))}"
        )
