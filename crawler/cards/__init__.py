"""Stage 1, cards: an event card's text in, a `Card` (watch items, cited sources) out.

- `model`: the `Card` dataclasses, `CardError` (names the line to fix), shared checks, digest.
- `markdown`: the layout the news graph writes; `yaml_card`: the hand-written YAML form.
- `parse`: `parse_card` picks the layout by file name, else by content.

Pure: no Scrapy, no SQLAlchemy (`tests/test_layout.py` holds the line).
"""
