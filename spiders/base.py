"""OutletSpider: discovery machinery shared by every outlet profile.

An outlet module only declares where its links are (feeds, sitemaps, listing pages, listing
APIs), what its article URLs look like and how it misbehaves (`strip_query`, `encoding`);
this class fetches those endpoints with Scrapy, parses them with `crawler.discovery.parse`, keeps
the seen-URL memory in storage (`storage.followups.claim_links`) and requests each new article
once. The article answer becomes the same `FetchedPage` the watch spider yields (as a
`discovered`), so ExtractPipeline and RecordPipeline store it exactly like a watched page,
and FollowupPipeline then scores it against the events citing the outlet.

Every endpoint taken from content (robots.txt `Sitemap:` lines, feeds a home page announces,
sitemap-index children) and every article link passes the address guard first
(`crawler.fetch.guard`, on the name or literal; `AddressGuardMiddleware` checks resolved
addresses when the request goes out): a refusal is a logged skip. A sitemap is fetched once per
run (an index listing itself, or two indexes listing each other, end there) and indexes nest
at most `max_sitemap_depth` deep.

An article whose first fetch failed is retried by the next run once its retry is due (its URL
is seen, so no endpoint offers it again), for WATCHDESK_DISCOVERED_RECHECK_DAYS.

`scrapy crawl <profile> [-a outlet=NAME]`. Reads: WATCHDESK_DB, DOWNLOAD_MAXSIZE,
WATCHDESK_LEASE_MINUTES, WATCHDESK_DISCOVERED_RECHECK_DAYS,
WATCHDESK_HOST_MAP and WATCHDESK_ALLOW_PRIVATE_HOSTS (the guard's exemptions).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.config import address_guard_from_settings
from crawler.discovery import parse as discovery
from crawler.discovery.parse import DiscoveredLink, DiscoveryError
from crawler.interrupt import interrupted
from crawler.items import FetchedPage
from spiders.checking import check_request, item_from_failure, item_from_response
from storage.db import open_store
from storage.followups import (
    claim_links,
    discovery_since,
    events_citing,
    find_outlets,
    outlet_home,
    record_discovery_run,
    retry_pages,
)
from storage.models import Outlet
from storage.repositories import claim_pages, release_pages, utcnow

logger = logging.getLogger(__name__)

#: Statuses callbacks must see (a 404 feed is reported, an article's 410 is recorded).
ENDPOINT_STATUSES = [400, 401, 403, 404, 405, 406, 408, 410, 429, 451, 500, 502, 503, 504]


@dataclass(frozen=True)
class ApiListing:
    """A listing served by a form POST, with the parser of its answer (Focus Taiwan's API)."""

    url: str
    form: dict[str, str]
    parse: Callable[[bytes, str], list[DiscoveredLink]]


@dataclass
class _Run:
    """What one run knows about its outlet, loaded from storage at start."""

    outlet_id: int
    outlet_ids: list[int]
    hosts: frozenset[str]
    home: str | None
    since: datetime | None
    errors: list[str] = field(default_factory=list)


class OutletSpider(scrapy.Spider):
    """Discover one outlet's new articles and fetch each once as a page of its own."""

    hosts: ClassVar[tuple[str, ...]] = ()
    """The outlet's hosts (`www.` folded); links elsewhere are offsite. Empty: the outlet row's."""
    feeds: ClassVar[tuple[str, ...]] = ()
    sitemaps: ClassVar[tuple[str, ...]] = ()
    listings: ClassVar[tuple[str, ...]] = ()
    """HTML pages whose `<a href>` links are candidates."""
    api_listings: ClassVar[tuple[ApiListing, ...]] = ()
    article_path: ClassVar[str | None] = None
    """Regex searched in an article URL's (percent-encoded) path; None: any path."""
    strip_query: ClassVar[bool] = False
    """Drop query strings from links (they only track, and make duplicates)."""
    encoding: ClassVar[str | None] = None
    """Decode HTML listings with this, whatever the headers say (or fail to say)."""
    read_robots: ClassVar[bool] = False
    """Also use the `Sitemap:` lines of the outlet's robots.txt."""
    read_home: ClassVar[bool] = False
    """Also use the feeds the home page announces with `<link rel="alternate">`."""
    max_child_sitemaps: ClassVar[int] = 10
    """Of a sitemap index, follow the newest N children only (WaPo lists thousands)."""
    max_sitemap_depth: ClassVar[int] = 3
    """Sitemap indexes nest this deep at most (0: the sitemaps the profile or robots.txt name)."""
    max_articles: ClassVar[int] = 100
    """New articles fetched per run at most; the rest stay unseen for the next run."""
    interval: ClassVar[timedelta] = timedelta(minutes=30)
    """Time to the outlet's next discovery (`Outlet.next_discovery_at`)."""

    def __init__(self, outlet: str | None = None, owner: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outlet = outlet
        self.owner = owner or f"{self.name}:{outlet or '-'}:{uuid.uuid4().hex[:8]}"[:64]
        self.run: _Run | None = None
        self.sitemaps_seen: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Load the outlet from storage and request each discovery endpoint once."""
        self.sessions = open_store(self.crawler.settings.get("WATCHDESK_DB") or None)
        self.guard = address_guard_from_settings(self.crawler.settings)
        self.guard.resolve = None  # names and literals here; resolved addresses at download
        self.run = self._load_run()
        if self.run is None:
            logger.warning(
                "%s: no outlet %r in the store; nothing to discover",
                self.name,
                self.outlet or self.hosts,
            )
            return
        for request in self.endpoint_requests(self.run):
            yield request
        for page_id, url in self._claim_retries(self.run):
            self._inc("watchdesk/discovery/retried")
            yield self._article_request(page_id, url)

    def _claim_retries(self, run: _Run) -> list[tuple[int, str]]:
        """Lease the outlet's discovered articles whose first fetch failed and are due again
        (`storage.followups.retry_pages`); `closed` gives back what was not answered."""
        days = self.crawler.settings.getfloat("WATCHDESK_DISCOVERED_RECHECK_DAYS", 3)
        ttl = self._lease_ttl()
        with self.sessions.begin() as session:
            due = retry_pages(session, run.outlet_ids, utcnow(), days, self.max_articles, ttl)
            claimed = set(claim_pages(session, [i for i, _ in due], self.owner, ttl))
        return [(page_id, url) for page_id, url in due if page_id in claimed]

    def _lease_ttl(self) -> timedelta:
        """How long this run holds the articles it fetches (WATCHDESK_LEASE_MINUTES)."""
        return timedelta(minutes=self.crawler.settings.getint("WATCHDESK_LEASE_MINUTES", 30))

    def _load_run(self) -> _Run | None:
        with self.sessions.begin() as session:
            outlets = find_outlets(session, self.outlet, self.hosts)
            if not outlets:
                return None
            ids = [o.id for o in outlets]
            hosts = frozenset(self.hosts or {o.host for o in outlets if o.host})
            since = discovery_since(events_citing(session, ids))
            return _Run(ids[0], ids, hosts, outlet_home(session, outlets[0]), since)

    def endpoint_requests(self, run: _Run) -> Iterator[scrapy.Request]:
        """The profile's endpoints as requests; the generic profile adds robots.txt and home."""
        for url in self.feeds:
            yield from self._endpoint(url, "feed", self.parse_feed)
        for url in self.sitemaps:
            yield from self._endpoint(url, "sitemap", self.parse_sitemap)
        for url in self.listings:
            yield from self._endpoint(url, "listing", self.parse_listing)
        for index, api in enumerate(self.api_listings):
            yield scrapy.FormRequest(
                api.url,
                formdata=api.form,
                callback=self.parse_api,
                errback=self.endpoint_failed,
                meta={**self._endpoint_meta("listing"), "watchdesk_api": index},
                dont_filter=True,
            )
        if run.home and self.read_robots:
            yield from self._endpoint(run.home + "robots.txt", "robots", self.parse_robots)
        if run.home and self.read_home:
            yield from self._endpoint(run.home, "home", self.parse_home)

    def _endpoint(
        self, url: str, kind: str, callback: Callable[..., Any], depth: int = 0
    ) -> Iterator[scrapy.Request]:
        """The request for an endpoint, unless the address guard refuses it (a logged skip)
        or it is a sitemap already requested in this run, or nested too deep."""
        refusal = self.guard.url_problem(url)
        if refusal:
            self._inc("watchdesk/guard/refused")
            self._inc(f"watchdesk/discovery/{kind}_refused")
            logger.warning("%s: %s endpoint skipped: %s", self.name, kind, refusal)
            return
        if kind == "sitemap":
            if url in self.sitemaps_seen:
                logger.info("%s: sitemap %s already fetched in this run", self.name, url)
                return
            if depth > self.max_sitemap_depth:
                logger.warning(
                    "%s: sitemap %s nested too deep (%d), skipped", self.name, url, depth
                )
                return
            self.sitemaps_seen.add(url)
        meta = {**self._endpoint_meta(kind), "watchdesk_sitemap_depth": depth}
        yield scrapy.Request(
            url, callback=callback, errback=self.endpoint_failed, meta=meta, dont_filter=True
        )

    @staticmethod
    def _endpoint_meta(kind: str) -> dict[str, Any]:
        return {"watchdesk_endpoint": kind, "handle_httpstatus_list": ENDPOINT_STATUSES}

    # --- endpoint callbacks -------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """An RSS or Atom feed."""
        yield from self._links(response, lambda: discovery.parse_feed(response.body, response.url))

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """A sitemap (its articles) or a sitemap index (its newest child sitemaps)."""
        if not self._answered(response):
            return
        maxsize = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        try:
            page = discovery.parse_sitemap(response.body, response.url, max_size=maxsize)
        except DiscoveryError as exc:
            self.report_error(response, str(exc))
            return
        if page.kind == "urlset":
            yield from self.follow(page.links)
            return
        assert self.run is not None
        children = [c for c in page.links if not discovery.older_than(c, self.run.since)]
        children.sort(key=lambda c: c.published.timestamp() if c.published else 0.0, reverse=True)
        depth = response.meta.get("watchdesk_sitemap_depth", 0) + 1
        for child in children[: self.max_child_sitemaps]:
            yield from self._endpoint(child.url, "sitemap", self.parse_sitemap, depth)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        """An HTML listing page: every link on it is a candidate."""
        if self.encoding and isinstance(response, TextResponse):
            response = response.replace(encoding=self.encoding)
        yield from self._links(
            response, lambda: discovery.listing_links(_text(response), response.url)
        )

    def parse_api(self, response: Response) -> Iterator[scrapy.Request]:
        """A listing API answer, parsed by the profile's `ApiListing.parse`."""
        api = self.api_listings[response.meta["watchdesk_api"]]
        yield from self._links(response, lambda: api.parse(response.body, response.url))

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        """robots.txt: its `Sitemap:` lines (a missing robots.txt just has none)."""
        if response.status != 200:
            logger.info(
                "%s: no robots.txt at %s (HTTP %s)", self.name, response.url, response.status
            )
            return
        for url in discovery.robots_sitemaps(response.body, response.url):
            yield from self._endpoint(url, "sitemap", self.parse_sitemap)

    def parse_home(self, response: Response) -> Iterator[scrapy.Request]:
        """The home page: the feeds it announces that the profile does not already list."""
        if not self._answered(response):
            return
        for url in discovery.feed_urls_in_html(_text(response), response.url):
            if url not in self.feeds:
                yield from self._endpoint(url, "feed", self.parse_feed)

    def _links(
        self, response: Response, parse: Callable[[], list[DiscoveredLink]]
    ) -> Iterator[scrapy.Request]:
        """Parse an endpoint's answer; a broken one is reported and skipped."""
        if not self._answered(response):
            return
        try:
            links = parse()
        except DiscoveryError as exc:
            self.report_error(response, str(exc))
            return
        yield from self.follow(links)

    def _answered(self, response: Response) -> bool:
        """True for a 200; anything else is a broken endpoint, reported."""
        if response.status == 200:
            return True
        self.report_error(response, f"{response.url} answered HTTP {response.status}")
        return False

    # --- broken endpoints -----------------------------------------------------------------------

    def endpoint_failed(self, failure: Failure) -> None:
        """No answer at all from an endpoint (after retries): reported, the run goes on.
        A request cut short by a stop signal is no broken endpoint: not reported."""
        if interrupted(self.crawler):
            return
        request = getattr(failure, "request", None)
        kind = request.meta.get("watchdesk_endpoint", "feed") if request is not None else "feed"
        url = request.url if request is not None else "?"
        message = f"{url} failed: {failure.type.__name__}: {failure.getErrorMessage()}"
        self._error(kind, self.guard.redact(message))  # a redirect hop may be the replay's

    def report_error(self, response: Response, message: str) -> None:
        """Log and count a broken endpoint; it is also stored on the outlet at the end."""
        self._error(response.meta.get("watchdesk_endpoint", "feed"), message)

    def _error(self, kind: str, message: str) -> None:
        logger.warning("%s: broken %s skipped: %s", self.name, kind, message)
        self._inc(f"watchdesk/discovery/{kind}_error")
        if self.run is not None:
            self.run.errors.append(message)

    # --- links to article requests ----------------------------------------------------------

    def follow(self, links: Iterable[DiscoveredLink]) -> Iterator[scrapy.Request]:
        """Keep the article links not seen before, claim them in storage, request each once."""
        assert self.run is not None
        candidates = []
        for link in links:
            self._inc("watchdesk/discovery/links")
            url = discovery.strip_query(link.url) if self.strip_query else link.url
            reason = discovery.skip_reason(url, self.run.hosts, self.article_path)
            if reason is None and self.guard.url_problem(url):
                reason = "not public"
            if reason is None and discovery.older_than(link, self.run.since):
                reason = "older than the events"
            if reason is None:
                candidates.append((url, link.found_in))
            else:
                self._skipped(url, reason)
        yield from self._claim(candidates)

    def _skipped(self, url: str, reason: str) -> None:
        key = {
            "offsite": "skipped_offsite",
            "older than the events": "skipped_old",
            "not public": "skipped_not_public",
        }
        if reason == "not public":
            self._inc("watchdesk/guard/refused")
            logger.warning(
                "%s: skipped a link to a host that is not public: %s",
                self.name,
                self.guard.redact(url),
            )
        self._inc(f"watchdesk/discovery/{key.get(reason, 'skipped_non_article')}")
        logger.debug("%s: skipped %s (%s)", self.name, url, reason)

    def _claim(self, candidates: list[tuple[str, str]]) -> Iterator[scrapy.Request]:
        assert self.run is not None
        budget = self.max_articles - self._stat("watchdesk/discovery/new")
        if not candidates or budget <= 0:
            return
        with self.sessions.begin() as session:
            outlet = session.get_one(Outlet, self.run.outlet_id)
            claim = claim_links(
                session,
                outlet,
                candidates[:budget],
                utcnow(),
                owner=self.owner,
                ttl=self._lease_ttl(),
            )
        self._inc("watchdesk/discovery/seen", claim.seen)
        self._inc("watchdesk/discovery/already_watched", claim.watched)
        self._inc("watchdesk/discovery/new", len(claim.new))
        for page_id, url in claim.new:
            yield self._article_request(page_id, url)

    def _article_request(self, page_id: int, url: str) -> scrapy.Request:
        page = {"id": page_id, "url": url}
        return check_request(page, self.parse_article, self.article_failed, discovered=True)

    def parse_article(self, response: Response) -> FetchedPage:
        """An article's answer, as the very item the watch spider makes."""
        return item_from_response(response)

    def article_failed(self, failure: Failure) -> FetchedPage | None:
        """An article that gave no answer after retries: a transient failure (nothing, after
        a stop signal: the article is retried later, `storage.followups.retry_pages`)."""
        return None if interrupted(self.crawler) else item_from_failure(failure)

    def closed(self, reason: str) -> None:
        """Store the run's endpoint errors (or their absence) on the outlet rows; give back
        the leases of retried articles that got no answer."""
        if self.run is None:
            return
        with self.sessions.begin() as session:
            release_pages(session, self.owner)
            record_discovery_run(
                session, self.run.outlet_ids, self.run.errors, utcnow(), self.interval
            )

    # --- stats ---------------------------------------------------------------------------------

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None and count:
            self.crawler.stats.inc_value(key, count)

    def _stat(self, key: str) -> int:
        stats = self.crawler.stats
        return int(stats.get_value(key, 0)) if stats is not None else 0


def _text(response: Response) -> str | bytes:
    """The decoded page, or its bytes when Scrapy did not take it for text."""
    return response.text if isinstance(response, TextResponse) else response.body
