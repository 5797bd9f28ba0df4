"""Discovery helpers on the outlets' real endpoint formats, broken inputs, and the seen-URL memory.

Feeds, sitemaps and listings are the replay fixtures of tests/fixtures/outlets (see its
PROVENANCE.md); URL filter cases are in tests/cases/discovery_urls.yaml.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from scrapy.spiderloader import SpiderLoader
from sqlalchemy import func, select

from crawler.config import project_settings
from crawler.discovery.parse import (
    DiscoveryError,
    feed_urls_in_html,
    listing_links,
    parse_feed,
    parse_ftnewslist,
    parse_sitemap,
    robots_sitemaps,
    skip_reason,
    strip_query,
)
from crawler.fetch.urls import url_key
from scheduler.state import due_pages
from spiders.base import OutletSpider
from storage import leases
from storage.followups import claim_links, find_outlets
from storage.models import Page, SeenUrl
from storage.repositories import ensure_page, get_or_create_outlet, release_pages, utcnow

ROOT = Path(__file__).parent
STATE = ROOT / "fixtures" / "outlets" / "state1"
CASES = yaml.safe_load((ROOT / "cases" / "discovery_urls.yaml").read_text(encoding="utf-8"))
SPIDERS = SpiderLoader.from_settings(project_settings())


def fixture(host: str, path: str) -> bytes:
    """Bytes of one replayed endpoint."""
    return (STATE / host / path).read_bytes()


def profile(name: str) -> type[OutletSpider]:
    spider = SPIDERS.load(name)
    assert issubclass(spider, OutletSpider)
    return spider


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- which links are articles ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES["filters"]))
def test_article_filter(name: str) -> None:
    case = CASES["filters"][name]
    spider = profile(case["spider"])
    url = strip_query(case["url"]) if spider.strip_query else case["url"]
    hosts = case.get("hosts") or spider.hosts
    reason = skip_reason(url, hosts, spider.article_path)
    if case["skip"] is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(case["skip"]), reason


@pytest.mark.parametrize("name", sorted(CASES["same_article"]))
def test_spellings_of_one_article_share_a_key(name: str) -> None:
    case = CASES["same_article"][name]
    spider = profile(case["spider"])
    urls = [strip_query(u) if spider.strip_query else u for u in case["urls"]]
    assert len({url_key(u) for u in urls}) == 1, [url_key(u) for u in urls]


def test_every_outlet_profile_is_short_and_declares_its_hosts() -> None:
    for name in ("president_gov_tw", "ip_gov_py", "abc_com_py", "focustaiwan_tw"):
        spider = profile(name)
        assert spider.hosts and spider.article_path, name
        module = ROOT.parent / "spiders" / f"{name}.py"
        assert len(module.read_text(encoding="utf-8").splitlines()) < 40, name


# --- feeds ---------------------------------------------------------------------------------------


def test_wordpress_feed_entries_and_dates() -> None:
    url = "https://www.ip.gov.py/ip/feed/"
    links = parse_feed(fixture("ip.gov.py", "ip/feed/feed.xml"), url)
    assert [link.url.rsplit("/", 2)[-2][:24] for link in links] == [
        "cancilleria-responde-a-c",
        "mec-inicia-campana-de-va",
        "pena-highlights-results-",
        "pena-destaca-resultados-",
    ]
    assert links[3].published == utc("2026-05-11T18:22:10+00:00")  # <pubDate> of the item
    assert links[0].title == "Cancillería responde a China tras críticas por la visita a Taiwán"
    assert all(link.found_in == url for link in links)


def test_feedburner_orig_link_wins_over_the_proxy_link() -> None:
    links = parse_feed(fixture("feeds.feedburner.com", "rsscna/engnews/feed.xml"), "https://x/")
    assert links[0].url == "https://focustaiwan.tw/politics/202605130002"
    assert all(link.url.startswith("https://focustaiwan.tw/") for link in links)


def test_presidential_rss_without_charset_is_read_as_utf8() -> None:
    links = parse_feed(fixture("english.president.gov.tw", "RSSNEWS.aspx"), "https://x/")
    assert any("Peña" in (link.title or "") for link in links)
    assert links[0].url == "https://english.president.gov.tw/News/7134"


def test_atom_feed_times_become_utc() -> None:
    links = parse_feed(fixture("taiwannews.com.tw", "feeds/atom.xml"), "https://x/")
    assert [link.url for link in links] == [
        "https://www.taiwannews.com.tw/news/6360002",
        "https://www.taiwannews.com.tw/news/6360001",
    ]
    assert links[1].published == utc("2026-05-12T09:20:00+00:00")  # 17:20 +08:00


def test_arc_feed_keeps_tracking_links_for_the_spider_to_strip() -> None:
    links = parse_feed(fixture("abc.com.py", "arc/outboundfeeds/rss/feed.xml"), "https://x/")
    first = links[0].url
    assert "utm_source=rss" in first and "&utm_medium=feed" in first
    assert strip_query(first).endswith("ante-criticas-de-la-oposicion/")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fixture("abc.com.py", "arc/outboundfeeds/rss/category/politica/feed.xml"), "malformed"),
        (fixture("abc.com.py", "arc/outboundfeeds/rss/category/economia/feed.xml"), "HTML page"),
        (fixture("taiwannews.com.tw", "rss.html"), "HTML page"),
        (b"", "not an RSS or Atom feed"),
        (b'{"Result": "Y"}', "not an RSS or Atom feed"),
        # feedparser's loose parser would recover both items; a broken feed is still broken.
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            b"<title>A & B</title><link>https://x.com/a</link></item></channel></rss>",
            "malformed",
        ),
    ],
    ids=["truncated", "html-200", "nextjs-rss", "empty", "json", "bare-ampersand"],
)
def test_broken_feeds_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message) as caught:
        parse_feed(body, "https://example.com/feed")
    assert "https://example.com/feed" in str(caught.value)


def test_home_page_announces_feeds_not_language_versions() -> None:
    found = feed_urls_in_html(
        fixture("taiwannews.com.tw", "index.html"), "https://www.taiwannews.com.tw/"
    )
    assert found == [
        "https://www.taiwannews.com.tw/rss",
        "https://www.taiwannews.com.tw/feeds/atom.xml",
    ]


# --- sitemaps and robots.txt ---------------------------------------------------------------------


def test_robots_sitemap_lines() -> None:
    body = fixture("taiwannews.com.tw", "robots.txt") + b"sitemap: /relative.xml\n"
    assert robots_sitemaps(body, "https://www.taiwannews.com.tw/robots.txt") == [
        "https://www.taiwannews.com.tw/sitemaps/sitemap-index.xml.gz",
        "https://www.taiwannews.com.tw/relative.xml",
    ]


def test_gzipped_sitemap_index() -> None:
    page = parse_sitemap(
        fixture("taiwannews.com.tw", "sitemaps/sitemap-index.xml.gz"), "https://x/"
    )
    assert page.kind == "sitemapindex"
    assert [link.url.rsplit("/", 1)[1] for link in page.links] == [
        "news-sitemap.xml",
        "sitemap-2026-05.xml.gz",
        "sitemap-2026-04.xml.gz",
        "sitemap-2025-12.xml.gz",
    ]
    assert page.links[3].published == utc("2025-12-31T15:50:00+00:00")


def test_wordpress_sitemap_with_stylesheet() -> None:
    page = parse_sitemap(fixture("ip.gov.py", "ip/wp-sitemap-posts-post-1.xml"), "https://x/")
    assert page.kind == "urlset" and len(page.links) == 7
    assert page.links[0].published == utc("2025-11-03T12:00:00+00:00")


def test_google_news_sitemap_gives_title_and_publication_date() -> None:
    body = fixture("abc.com.py", "arc/outboundfeeds/news-sitemap/sitemap.xml")
    page = parse_sitemap(body, "https://x/")
    assert len(page.links) == 4
    assert page.links[0].title == (
        "Peña defiende el memorando de IA con Taiwán ante críticas de la oposición"
    )
    assert page.links[0].published == utc("2026-05-12T18:30:00+00:00")


def test_news_publication_date_wins_over_lastmod() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>'
        b"<loc>https://e.com/a</loc><lastmod>2026-06-01</lastmod><news:news>"
        b"<news:publication_date>2026-05-12T10:00:00Z</news:publication_date>"
        b"</news:news></url></urlset>"
    )
    (link,) = parse_sitemap(body, "https://e.com/s.xml").links
    assert link.published == utc("2026-05-12T10:00:00+00:00")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fixture("taiwannews.com.tw", "rss.html"), "not a sitemap"),
        (b"", "not a sitemap"),
        (fixture("taiwannews.com.tw", "feeds/atom.xml"), "root element <feed>"),
        (b"\x1f\x8b\x08" + b"not really gzip", "not valid gzip"),
    ],
    ids=["html", "empty", "atom-feed", "broken-gzip"],
)
def test_broken_sitemaps_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        parse_sitemap(body, "https://example.com/sitemap.xml")


def test_gzip_bomb_is_refused_above_max_size() -> None:
    body = gzip.compress(b"<urlset>" + b" " * 100_000 + b"</urlset>")
    with pytest.raises(DiscoveryError, match="gzip"):
        parse_sitemap(body, "https://example.com/s.xml.gz", max_size=10_000)


# --- listings ----------------------------------------------------------------------------------


def test_listing_page_links_through_the_abc_profile() -> None:
    spider = profile("abc_com_py")
    base = "https://www.abc.com.py/ultimas-noticias/"
    links = listing_links(fixture("abc.com.py", "ultimas-noticias/index.html"), base)
    kept = {
        url_key(strip_query(link.url))
        for link in links
        if skip_reason(strip_query(link.url), spider.hosts, spider.article_path) is None
    }
    assert kept == {
        url_key(
            "https://www.abc.com.py/internacionales/2026/05/14/china-acusa-a-paraguay-de-actuar-como-peon-de-taiwan/"
        ),
        url_key(
            "https://www.abc.com.py/economia/2026/05/13/exportadores-de-pollo-celebran-apertura-del-mercado-de-Taiw%C3%A1n/"
        ),
        url_key(
            "https://www.abc.com.py/nacionales/2026/05/13/intensas-lluvias-afectan-a-barrios-de-asuncion/"
        ),
    }


def test_focus_taiwan_listing_json() -> None:
    url = "https://focustaiwan.tw/cna2019api/cna/FTNewsList/"
    links = parse_ftnewslist(
        fixture("focustaiwan.tw", "cna2019api/cna/FTNewsList/listing.json"), url
    )
    assert [link.url for link in links][:2] == [
        "https://focustaiwan.tw/politics/202605130002",
        "https://focustaiwan.tw/politics/202605120011",
    ]
    assert links[0].title == "Taiwan clears first shipment of Paraguayan chicken"
    assert links[0].published == utc("2026-05-13T01:10:00+00:00")  # "2026/05/13 09:10" in Taipei


@pytest.mark.parametrize(
    "body",
    [b'{"Result":"N","ResultMsg":"error"}', b"<!DOCTYPE html><html></html>", b'{"Result":"Y"}'],
    ids=["result-n", "html", "no-items"],
)
def test_broken_listing_json_is_refused(body: bytes) -> None:
    with pytest.raises(DiscoveryError, match="FTNewsList"):
        parse_ftnewslist(body, "https://focustaiwan.tw/cna2019api/cna/FTNewsList/")


# --- the seen-URL memory in storage (both backends) --------------------------------------------


def test_claims_are_remembered_per_outlet(sessions) -> None:
    now = utcnow()
    base = "https://www.abc.com.py/economia/2026/05/13/pollo-de-Taiw%C3%A1n/"
    cited = "https://www.abc.com.py/internacionales/2026/05/08/acuerdos/"
    with sessions.begin() as session:
        outlet = get_or_create_outlet(session, "ABC Color", "abc.com.py")
        ensure_page(session, cited, outlet, origin="cited")
        lease = {"owner": "discover-1@test", "ttl": timedelta(minutes=5)}
        first = claim_links(
            session, outlet, [(base, "feed"), (base + "?x=1", "feed")], now, **lease
        )
        again = claim_links(
            session,
            outlet,
            [("http://abc.com.py/economia/2026/05/13/pollo-de-Taiwán", "sitemap"), (cited, "x")],
            now,
            **lease,
        )
        # A query that is not tracking is another page; the second spelling of `base` is not.
        assert [url for _, url in first.new] == [base, base + "?x=1"]
        assert (again.seen, again.watched, again.new) == (1, 1, [])
        origin = session.scalar(select(Page.origin).where(Page.url == base))
        assert origin == "discovered"
        keys = session.scalar(select(func.count()).select_from(SeenUrl))
        assert keys == 3


def test_new_articles_are_leased_to_the_discovery_run(sessions) -> None:
    """A new article is due at once: unleased, a recheck loop running beside the discovery
    run (a worker's, a daemon's) would fetch it a second time (CI saw it, issue 12's test)."""
    now = utcnow()
    url = "https://www.abc.com.py/economia/2026/05/13/nuevo/"
    cited = "https://www.abc.com.py/portada/"
    with sessions.begin() as session:
        outlet = get_or_create_outlet(session, "ABC Color", "abc.com.py")
        ensure_page(session, cited, outlet, origin="cited")
        claim = claim_links(
            session, outlet, [(url, "feed")], now, owner="discover-1@t", ttl=timedelta(minutes=5)
        )
        assert [u for _, u in claim.new] == [url]
        now = utcnow()  # both pages were made due at their creation
        # Neither the daemon's due list nor a worker's batch offers it while the run holds it.
        assert {page.url for page in due_pages(session, now)} == {cited}
        leases.take_hosts(session, "worker-0", 4, timedelta(minutes=5), now)
        batch = leases.claim_batch(session, "worker-0", 10, 2, timedelta(minutes=5), now)
        assert [page.url for page in batch] == [cited]
        # The run gives back what it did not answer: then it is anyone's to retry.
        release_pages(session, "discover-1@t")
        assert {page.url for page in due_pages(session, now)} == {url}
        assert [o.name for o in find_outlets(session, "abc.com.py", ())] == ["ABC Color"]
