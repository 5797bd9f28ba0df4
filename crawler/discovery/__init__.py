"""Follow-up discovery: the bytes of a feed, news sitemap, robots.txt or listing page in;
candidate article links (`DiscoveredLink`) out.

- `parse`: feedparser for feeds, lxml for sitemaps and indexes, parsel for listings, and the
  rules that tell an article URL from a section, tag or media page.

Pure: no Scrapy, no SQLAlchemy; the outlet spiders in `spiders/` fetch and call it.
"""
