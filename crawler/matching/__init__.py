"""Stage 6, matching: an article (or what an edit changed) and an event's watch items in;
on-topic yes/no and the watch items it bears on, each with its evidence sentence, out.

- `matcher`: `relate`, the decision; `profile`: an event's match profile built from its card;
  `text`: sentence splitting and per-script analysis; `terms`: optional editor terms;
  `syndication`: the same story on several outlets, grouped.

Pure: no Scrapy, no SQLAlchemy; the store calls it from `storage/linking.py` and
`storage/followups.py`; `process`: the matcher in its own process, for crawls.
"""

#: Cited articles a profile reads (the card's first; a card cites six to ten, a generated
#: one may cite a thousand, and each costs an encoder pass when the profile is built).
#: Here, not in `profile`, so the store can read it without importing the matcher.
MAX_SOURCES = 10
