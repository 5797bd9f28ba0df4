"""Office of the President, ROC (Taiwan), English site: RSS, the news list, `/News/{id}`.

Quirk (OUTLETS.md): pages come as `text/html` without a charset; the list is decoded as UTF-8
here, and ExtractPipeline decodes article bodies as UTF-8 when nothing is declared.
"""

from __future__ import annotations

from spiders.base import OutletSpider

BASE = "https://english.president.gov.tw"


class PresidentGovTwSpider(OutletSpider):
    """english.president.gov.tw"""

    name = "president_gov_tw"
    hosts = ("english.president.gov.tw",)
    feeds = (f"{BASE}/RSSNEWS.aspx",)
    listings = (f"{BASE}/Page/4",)
    article_path = r"^/(?i:news)/\d+/?$"
    encoding = "utf-8"
