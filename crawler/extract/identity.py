"""Which extractor made a version: its name and version, without importing it.

Every version records these. The crawl's recording thread needs them but never extracts
(extraction runs in worker processes), so they are read from the installed package's
metadata rather than from an imported trafilatura (~40 MiB the main process need not hold).
"""

from __future__ import annotations

from importlib.metadata import version

EXTRACTOR_NAME = "trafilatura"
#: Bump when a watchdesk rule (decoding, furniture list, paragraph splitting, metadata order)
#: changes; it is recorded on every version so versions made under old rules are recognisable.
#: When a page's text changes under a new EXTRACTOR_VERSION, the store records the new text
#: as a quiet `rebaselined` version instead of an edit (`storage.checks`). wd2: header
#: charset first, Latin pages as windows-1252. wd3: the favor_recall pass only on pages with
#: a teaser block (the body changes on ~10 % of corpus pages).
RULES_VERSION = "wd3"
EXTRACTOR_VERSION = f"{version(EXTRACTOR_NAME)}+{RULES_VERSION}"
