"""Agencia IP (Paraguay's state news agency): WordPress installed under `/ip/`.

Whole-site and section feeds (RSS 2.0 with `content:encoded`) and WordPress's own
`wp-sitemap.xml` index; articles are `/ip/{YYYY}/{MM}/{DD}/{slug}/` (OUTLETS.md).
"""

from __future__ import annotations

from spiders.base import OutletSpider

BASE = "https://www.ip.gov.py/ip"
SECTIONS = ("politica", "economia", "internacionales")


class IpGovPySpider(OutletSpider):
    """ip.gov.py"""

    name = "ip_gov_py"
    hosts = ("ip.gov.py",)
    feeds = (f"{BASE}/feed/", *(f"{BASE}/{section}/feed/" for section in SECTIONS))
    sitemaps = (f"{BASE}/wp-sitemap.xml",)
    article_path = r"^/ip/\d{4}/\d{2}/\d{2}/[^/]+/?$"
