"""ABC Color (Paraguay), an Arc XP site: outbound RSS feeds, the Google-News sitemap and
"últimas noticias".

Quirks (OUTLETS.md): query strings only track (`?utm_…`, `outputType=amp`) and are dropped;
slugs may carry percent-encoded capitals (`Taiw%C3%A1n`), which `url_key` folds.
"""

from __future__ import annotations

from datetime import timedelta

from spiders.base import OutletSpider

BASE = "https://www.abc.com.py"
ARC = f"{BASE}/arc/outboundfeeds"
SECTIONS = ("politica", "nacionales", "internacionales", "economia")


class AbcComPySpider(OutletSpider):
    """abc.com.py"""

    name = "abc_com_py"
    hosts = ("abc.com.py",)
    feeds = (
        f"{ARC}/rss/?outputType=xml",
        *(f"{ARC}/rss/category/{section}/?outputType=xml" for section in SECTIONS),
    )
    sitemaps = (f"{ARC}/news-sitemap/?outputType=xml",)
    listings = (f"{BASE}/ultimas-noticias/",)
    article_path = r"^/[a-z0-9-]+(?:/[a-z0-9-]+)*/\d{4}/\d{2}/\d{2}/[^/]+/?$"
    strip_query = True
    #: A daily news sitemap and a busy front page: look more often than the default.
    interval = timedelta(minutes=15)
