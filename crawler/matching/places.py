"""Countries and cities in every language and script, from CLDR (shipped with babel).

The card names places in English (Peru, Beijing); articles write Perú, Pekín, 秘魯, 北京.
CLDR has every territory's name in every locale, and the exemplar city of each time zone
(Lima, Asunción, 台北, 利马…), so one table covers English, Spanish and both Chinese scripts
with nothing kept by hand. A place is reported by its territory code: "Perú", "秘鲁" and
"Lima" are all `PE`. Spanish and English adjectives ("peruano", "Peruvian") are caught by
letting a long name take a short ending; nothing else is guessed.
Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

from babel import Locale
from babel.core import get_global

from crawler.matching.text import fold, fold_cjk, has_cjk

LOCALES = ("en", "es", "zh_Hant", "zh_Hans")
#: CLDR names that are also common words or too short to find safely in running text.
_MIN_LATIN = 4
#: Adjective endings a country name may take ("chileno", "Peruvian", "mexicanos").
_ENDING = r"(?:[a-z]{0,6})"
#: Cities that are not capitals but share their name with something common, and CLDR's
#: long "City, State" zone names, are dropped: they would find places that are not there.
_SKIP_CODES = frozenset({"ZZ", "QO", "XA", "XB", "EZ", "UN"})


@cache
def place_names() -> dict[str, frozenset[str]]:
    """Territory code -> every folded name CLDR gives it (countries and exemplar cities)."""
    zones = get_global("zone_territories")
    names: dict[str, set[str]] = {}
    for tag in LOCALES:
        locale = Locale.parse(tag)
        for code, name in locale.territories.items():
            if len(code) == 2 and code.isalpha() and code not in _SKIP_CODES:
                names.setdefault(code, set()).add(fold(name))
        for zone, info in locale.time_zones.items():
            code = zones.get(zone)
            city = info.get("city") or (zone.rsplit("/", 1)[-1].replace("_", " "))
            if code and code.isalpha() and city and "," not in city:
                names.setdefault(code, set()).add(fold(city))
    return {code: frozenset(n for n in found if _usable(n)) for code, found in names.items()}


def _usable(name: str) -> bool:
    """Chinese names of two characters or more; Latin names of four letters or more."""
    return len(name) >= 2 if has_cjk(name) else len(name) >= _MIN_LATIN


def _stem(name: str) -> str:
    """A single-word name without its final vowel, so adjectives match ("chin" in "chino")."""
    if " " not in name and len(name) >= 5 and name[-1] in "aeiouy" and not has_cjk(name):
        return name[:-1]
    return name


@cache
def _patterns() -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation over every name's stem (longest first) and the stem -> code map."""
    owner: dict[str, str] = {}
    for code, found in sorted(place_names().items()):
        for name in found:
            owner.setdefault(_stem(name), code)
    latin = sorted((n for n in owner if not has_cjk(n)), key=len, reverse=True)
    cjk = sorted((n for n in owner if has_cjk(n)), key=len, reverse=True)
    body = "|".join(re.escape(n) + (_ENDING if " " not in n else "") for n in latin)
    pattern = rf"(?<![\w])(?:{body})(?![\w])|" + "|".join(map(re.escape, cjk))
    return re.compile(pattern), owner


def find_places(text: str) -> Counter[str]:
    """Territory codes mentioned in `text`, with how often ("Perú y Lima" -> PE: 2)."""
    pattern, owner = _patterns()
    folded = fold(fold_cjk(text) if has_cjk(text) else text)
    found: Counter[str] = Counter()
    for match in pattern.finditer(folded):
        code = owner.get(match.group(0)) or _by_prefix(match.group(0), owner)
        if code:
            found[code] += 1
    return found


def _by_prefix(word: str, owner: dict[str, str]) -> str | None:
    """The country an adjective was formed from ("peruanos" -> the longest name it extends)."""
    for cut in range(len(word) - 1, _MIN_LATIN - 1, -1):
        if word[:cut] in owner:
            return owner[word[:cut]]
    return None
