"""Stage 7, reports: a `Report` (built from the store by `storage/reporting.py`) in; Markdown,
HTML, JSON and Atom text, or an Apprise delivery, out.

- `render`: the report data and one renderer per format (registered by `kind`), Jinja
  templates in `templates/` with autoescaping, the JSON contract in `schemas/`.
- `atom`: Atom 1.0 feeds of significant changes; `notify`: digests sent through Apprise.

Pure apart from `notify`'s delivery: no Scrapy, no SQLAlchemy.
"""
