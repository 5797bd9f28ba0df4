"""Generic discovery for any outlet without a profile of its own.

`scrapy crawl generic -a outlet=NAME_OR_HOST`: the `Sitemap:` lines of the outlet's
robots.txt (sitemap indexes, Google News sitemaps, gzipped sitemaps) and the RSS / Atom feeds
its home page announces with `<link rel="alternate">`. No article pattern is known, so only
the non-article filters of `crawler.discovery.parse.skip_reason` apply.
"""

from __future__ import annotations

from spiders.base import OutletSpider


class GenericSpider(OutletSpider):
    """Any outlet: robots.txt sitemaps and announced feeds."""

    name = "generic"
    read_robots = True
    read_home = True
    max_articles = 50
