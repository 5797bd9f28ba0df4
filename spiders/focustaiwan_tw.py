"""Focus Taiwan (CNA English): the feedburner RSS and the "More stories" listing API.

The RSS lives on another host (feeds.feedburner.com) but is this outlet's feed: its entries
link to focustaiwan.tw (feedburner's `origLink` when it rewrites them). The listing API is a
form POST answering JSON (OUTLETS.md); articles are `/{category}/{YYYYMMDD}{NNNN}`.
"""

from __future__ import annotations

from crawler.discovery.parse import parse_ftnewslist
from spiders.base import ApiListing, OutletSpider

API = "https://focustaiwan.tw/cna2019api/cna/FTNewsList/"


def _listing(category: str) -> ApiListing:
    """The first page of a category's listing, as the site's "More stories" button asks."""
    form = {"action": "4", "category": category, "pageidx": "1", "pagesize": "20"}
    return ApiListing(API, form, parse_ftnewslist)


class FocustaiwanTwSpider(OutletSpider):
    """focustaiwan.tw"""

    name = "focustaiwan_tw"
    hosts = ("focustaiwan.tw",)
    feeds = ("https://feeds.feedburner.com/rsscna/engnews/",)
    api_listings = (_listing("politics"), _listing("cross-strait"))
    article_path = r"^/[a-z-]+/\d{12}/?$"
