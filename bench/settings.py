"""Settings shared by the ceiling and the watchdesk passes, so the comparison is fair.

The replay server is local: the politeness delay (a second per host in production) would
measure only the delay, so both sides run without it, with the same concurrency caps.
"""

BENCH_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "LOG_LEVEL": "WARNING",
}
