"""Scrapy settings for watchdesk, plus every WATCHDESK_* default, in data-flow order.

Each setting is documented in the README's settings table (a test keeps the two in step).
Environment variables of the same name override these defaults (see `crawler.config`).
"""

from __future__ import annotations

import os

BOT_NAME = "watchdesk"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# Imports only the module of the spider a crawl runs (crawler/spiderloader.py).
SPIDER_LOADER_CLASS = "crawler.spiderloader.LazySpiderLoader"

# --- storage -----------------------------------------------------------------------------
# SQLAlchemy URL of the store; empty means the SQLite file in the user's data directory.
WATCHDESK_DB = ""

# --- fetching ----------------------------------------------------------------------------
# Who we are: outlets' ops people must be able to find and reach us.
WATCHDESK_CONTACT_URL = "https://github.com/watchdesk/watchdesk#contact"
#: The User-Agent names the contact URL in force (set again below, after the environment).
USER_AGENT_TEMPLATE = "watchdesk/0.1 (+{contact}; newsroom source monitor)"
USER_AGENT = USER_AGENT_TEMPLATE.format(contact=WATCHDESK_CONTACT_URL)
# JSON host -> base URL: send a host's requests to a local replay server (tests, demo, bench).
WATCHDESK_HOST_MAP = ""
# Host names (comma or space separated) the address guard lets through although they are, or
# resolve to, private addresses: an intranet site a newsroom really wants watched. Every other
# loopback, private, link-local, metadata... host is refused (the host map's hosts are exempt).
WATCHDESK_ALLOW_PRIVATE_HOSTS = ""
# 404/410 or a redirect to the home page must repeat on this many consecutive checks.
WATCHDESK_REMOVAL_CONFIRMATIONS = 2
# Seconds between the first sighting of a removal or of a suspect version (an error, consent
# or teaser page) and the check that may confirm it; 0: the next check (tests, replays).
WATCHDESK_CONFIRM_AFTER = 3600
# Seconds after the last full (200) fetch before a 304 makes the next check go without
# validators, so a server whose ETag never changes cannot hide edits.
WATCHDESK_UNCONDITIONAL_AFTER = 86400
# Minutes a crawl holds the pages it claimed; a dead worker's pages free up after this.
WATCHDESK_LEASE_MINUTES = 30
# Seconds a worker's page and host leases last; renewed every third of it while it runs,
# so a dead worker's pages and hosts go to the others after this (heartbeat rows, same TTL).
WATCHDESK_LEASE_SECONDS = 60
# Pages a worker claims per batch (`watchdesk worker --batch`).
WATCHDESK_WORKER_BATCH = 50
# Hosts a worker holds at once; 0 means 4 x CONCURRENT_REQUESTS.
WATCHDESK_WORKER_HOSTS = 0
# Seconds an idle worker waits before it looks for due work again.
WATCHDESK_WORKER_POLL_SECONDS = 5.0
# Bodies larger than this are refused (bytes); a news article is rarely above 2 MB.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20

# --- extraction --------------------------------------------------------------------------
# Worker processes that extract pages (0: one per core); none are spawned for a 304 recheck.
WATCHDESK_EXTRACT_WORKERS = 0

ROBOTSTXT_OBEY = True
# Politeness: one request at a time per outlet host, a second apart, and AutoThrottle on top.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 %: no clockwork pattern for the outlet to notice
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Hand the downloader only requests whose host may send now, so requests waiting out their
# host's delay never hold the global CONCURRENT_REQUESTS (crawler/politeness.py).
SCHEDULER_PRIORITY_QUEUE = "crawler.politeness.HostReadyPriorityQueue"
# A check's callback yields one item; Scrapy starts CONCURRENT_ITEMS tasks per response to
# process its output (100 by default: ~100,000 tasks per 1000 pages, ~0.5 s of a 304 recheck).
CONCURRENT_ITEMS = 8

# Transient errors are retried with Scrapy's exponential backoff; what still fails is recorded
# as a failed fetch, never as an edit or a removal.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Seconds before the first retry, doubled each time (±50 % jitter), capped; a server's
# Retry-After wins. Scrapy itself retries at once.
WATCHDESK_RETRY_BACKOFF_BASE = 2.0
WATCHDESK_RETRY_BACKOFF_MAX = 60.0
REDIRECT_MAX_TIMES = 8

# A monitor must revalidate every time: Scrapy's HTTP cache serves stale pages and turns 304s
# and errors into cached 200s (STACK-NOTES.md). Conditional requests are our own middleware.
HTTPCACHE_ENABLED = False
# Scrapy 2.19 opens a code-executing remote-control server by default; a monitor needs none.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False
COOKIES_ENABLED = False

DOWNLOAD_HANDLERS = {
    # Same HTTP/1.1 handler as Scrapy's, plus the host map: URLs stay real everywhere else.
    "http": "crawler.handlers.HostMapDownloadHandler",
    "https": "crawler.handlers.HostMapDownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    # Before everything (Offsite is 50): refuse non-http(s) schemes before any I/O.
    "crawler.middlewares.SchemeGuardMiddleware": 40,
    # Then the address guard, still before Offsite (50) and robots.txt (100): no connection to
    # a non-public address, for the first request and for every redirect hop.
    "crawler.middlewares.AddressGuardMiddleware": 45,
    # Scrapy's robots.txt middleware in its own slot, reading 5xx/unreachable as disallow-all.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.Rfc9309RobotsTxtMiddleware": 100,
    # After Retry (550) and Redirect (600) on the way out, so a retried or redirected request
    # is handled like the first: validators only go to the URL they were stored for.
    "crawler.middlewares.ConditionalRequestMiddleware": 650,
    # Scrapy's RetryMiddleware, replaced in its own slot by the one with backoff.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # Last before the download handler: a retried request waits its backoff here.
    "crawler.middlewares.RetryDelayMiddleware": 950,
}
ITEM_PIPELINES = {
    # Extraction first (pure, off the event loop), then one transaction per page.
    "crawler.pipelines.ExtractPipeline": 100,
    "crawler.pipelines.RecordPipeline": 300,
    # After the version is stored: discovered articles only, scored against citing events.
    "crawler.pipelines.FollowupPipeline": 500,
}
EXTENSIONS = {
    "crawler.extensions.RunSummary": 500,
}

# --- schedule ----------------------------------------------------------------------------
# Seconds between two daemon ticks; each tick starts whatever is due.
WATCHDESK_TICK_SECONDS = 60
# A daemon that stops renewing its leader lease (crash) is replaced after this many seconds.
WATCHDESK_DAEMON_LEASE_SECONDS = 300
# Due pages of one host started per tick at most: a backlog drains over ticks, not in a burst.
WATCHDESK_MAX_PER_HOST_PER_TICK = 20
# The adaptive cadence never checks a page more often than this (minutes)…
WATCHDESK_RECHECK_MIN_MINUTES = 10
# …and never less often than this (days).
WATCHDESK_RECHECK_MAX_DAYS = 30
# A removed page is checked this often (hours), to notice a restoration.
WATCHDESK_REMOVED_RECHECK_HOURS = 24
# Compresses every cadence duration (1 in production; tests use ~0.001 for seconds).
WATCHDESK_CADENCE_SCALE = 1.0
# Failed fetches in a row on one outlet's pages that open its circuit breaker.
WATCHDESK_BREAKER_FAILURES = 5
# First cool-down of an open breaker (minutes), doubled per repeated trip up to 12 h.
WATCHDESK_BREAKER_COOLDOWN_MINUTES = 30
# Minutes between two discovery runs of an outlet in the daemon (0: the daemon never discovers).
WATCHDESK_DISCOVERY_MINUTES = 30
# Days a discovered article is rechecked (a failed first fetch retried, an edit re-scored);
# after that only the ones an event took as a follow-up (or a card cites) are.
WATCHDESK_DISCOVERED_RECHECK_DAYS = 3

# --- notifications -----------------------------------------------------------------------
# Each event's digest time: a crontab line (weekdays by name) or 6 fields with seconds first.
WATCHDESK_DIGEST_CRON = "0 7 * * *"
# Time zone of the digest cron line.
WATCHDESK_DIGEST_TIMEZONE = "UTC"
# Folder for digests and Atom feeds; empty means `reports` in the user data directory.
WATCHDESK_REPORTS_DIR = ""
# Apprise URLs (space or comma separated) that receive each digest; empty sends nothing.
WATCHDESK_NOTIFY_URLS = ""
# Newest significant changes kept in each event's Atom feed.
WATCHDESK_FEED_ENTRIES = 50

# --- logging -------------------------------------------------------------------------------
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# --- environment ---------------------------------------------------------------------------
# An environment variable named like a WATCHDESK_* setting overrides it, here rather than in
# the CLI, so that `scrapy crawl watch` sees the same configuration as `watchdesk crawl`.
for _name in [name for name in dir() if name.startswith("WATCHDESK_")]:
    if _name in os.environ:
        globals()[_name] = os.environ[_name]
USER_AGENT = USER_AGENT_TEMPLATE.format(contact=WATCHDESK_CONTACT_URL)
