"""Stage 3, extract: a fetched page's bytes in, one `ArticleText` and its hashes out.

- `article`: `ArticleText`, the shape every later stage reads.
- `extraction`: trafilatura (`deduplicate=False`) for the body, our own reading of headline
  variants, JSON-LD and meta dates, byline.
- `normalise`: decoding and text normalisation, so that identical articles compare equal.
- `furniture`: lines, blocks and pages that are not the article (share prompts, appended
  stories, challenge pages, teasers).

Pure: no Scrapy, no SQLAlchemy.
"""
