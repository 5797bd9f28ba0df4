"""URL helpers: one fetchable canonical form, one identity key, outlet hosts and the host map.

Two forms on purpose. `normalize_url` stays fetchable (it is what the crawler requests and
stores), so it keeps `www.`, the scheme and a trailing slash. `url_key` is only for deciding
"have we seen this page": it also folds `www.`, http/https and a trailing slash, which a
fetchable URL must not do because some servers answer differently.

Percent-encoding follows `w3lib.url.canonicalize_url` (upper-case UTF-8 escapes, unreserved
characters decoded, query parameters sorted), so `Taiw%C3%A1n`, `Taiw%c3%a1n` and `Taiwán`
give one form. No public-suffix list is used (tldextract would download one at run time);
`outlet_host` uses a small documented heuristic instead.

Reads no settings itself; `parse_host_map` validates the value of `WATCHDESK_HOST_MAP`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

#: Query parameters that only track the reader; removing them never changes the page.
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid"})
TRACKING_PREFIXES = ("utm_",)

#: Second-level labels under a country TLD that are not the outlet itself (gov.tw, com.py).
_GENERIC_SECOND_LEVEL = frozenset(
    {"ac", "co", "com", "edu", "gob", "go", "gov", "mil", "ne", "net", "or", "org"}
)
_HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
_UNSAFE_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


def url_problem(url: str) -> str | None:
    """Say why `url` is not a fetchable http(s) URL, or return None when it is.

    Args:
        url: the URL as written.

    Returns:
        A short reason ("URL scheme 'ftp' is not http or https", "URL has no host",
        "URL contains credentials", ...) or None.
    """
    if _UNSAFE_CHARS.search(url):
        return "URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        return f"URL is malformed ({exc})"
    return _parts_problem(parts)


def _parts_problem(parts: SplitResult) -> str | None:
    """Check scheme, host and userinfo of an already split URL."""
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        shown = scheme or "(none)"
        return f"URL scheme {shown!r} is not http or https"
    if not parts.hostname:
        return "URL has no host"
    if "@" in parts.netloc:
        return "URL contains credentials"
    return None


def is_http_url(url: str) -> bool:
    """True for an http(s) URL with a host and without credentials."""
    return url_problem(url) is None


def normalize_url(url: str) -> str:
    """Return the fetchable canonical form of an http(s) URL.

    Lower-case scheme and host (IDNA hosts in punycode), default port removed, fragment removed,
    tracking parameters (`utm_*`, fbclid, gclid, mc_cid, mc_eid, ref, cmpid) removed, remaining
    query parameters sorted, percent-encoding as `w3lib.url.canonicalize_url` writes it. `www.`
    and a trailing slash are kept: the result must still fetch the same page.

    Args:
        url: an http(s) URL.

    Returns:
        The canonical URL.

    Raises:
        ValueError: when the URL is not an http(s) URL with a host (see `url_problem`).
    """
    url = url.strip()
    problem = url_problem(url)
    if problem:
        raise ValueError(f"{problem}: {url!r}")
    parts = urlsplit(canonicalize_url(url, keep_fragments=False))
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((parts.scheme, _netloc_without_default_port(parts), parts.path, query, ""))


def _is_tracking(pair: str) -> bool:
    """True when a `key=value` query pair is a tracking parameter."""
    key = unquote_plus(pair.split("=", 1)[0]).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _netloc_without_default_port(parts: SplitResult) -> str:
    """Host (and port unless it is the scheme's default); credentials were refused earlier."""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or DEFAULT_PORTS.get(parts.scheme) == port:
        return host
    return f"{host}:{port}"


def url_key(url: str) -> str:
    """Identity key for "seen this URL before": `normalize_url` plus folding that is not fetchable.

    Also maps http to https, strips a leading `www.` and strips a trailing slash from the path
    (except the root path), so `http://www.abc.com.py/x/` and `https://abc.com.py/x` share a key.

    Args:
        url: an http(s) URL.

    Returns:
        The key (itself URL-shaped, but do not fetch it).

    Raises:
        ValueError: when the URL is not an http(s) URL with a host.
    """
    parts = urlsplit(normalize_url(url))
    netloc = _strip_www(parts.netloc)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", netloc, path, parts.query, ""))


def _strip_www(host: str) -> str:
    """Drop one leading `www.` label."""
    return host[4:] if host.startswith("www.") else host


def host_of(url: str) -> str:
    """Lower-case host of `url` without a leading `www.` (no port); "" when there is none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return _strip_www(host.lower())


def outlet_host(url: str) -> str:
    """The outlet's own domain: `english.president.gov.tw` -> `president.gov.tw`.

    Without a public-suffix list this keeps the last two labels, or three when the second-level
    label is generic under a two-letter country TLD (`abc.com.py`, `ip.gov.py`). IP addresses and
    single-label hosts are returned as they are.

    Args:
        url: any URL.

    Returns:
        The outlet domain, "" when the URL has no host.
    """
    host = host_of(url)
    if not host or _is_ip(host):
        return host
    labels = host.split(".")
    keep = 2
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL:
        keep = 3
    return ".".join(labels[-keep:])


def _is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def rewrite_for_host_map(url: str, host_map: dict[str, str]) -> str | None:
    """Send a request for a mapped host to its stand-in base URL (replay servers, mirrors).

    The exact host is looked up first; when it is absent, the same host with a leading `www.`
    added or removed is tried, so an entry for `abc.com.py` also serves `www.abc.com.py`; the
    port of `url` plays no part in the lookup.
    Path and query are appended to the base URL; the fragment is dropped.

    Args:
        url: the URL the crawler wants to fetch.
        host_map: lower-case host -> http(s) base URL, as returned by `parse_host_map`.

    Returns:
        The rewritten URL, or None when the host is not mapped.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    base = _lookup_host((parts.hostname or "").lower(), host_map)
    if base is None:
        return None
    rewritten = base.rstrip("/") + (parts.path or "/")
    return f"{rewritten}?{parts.query}" if parts.query else rewritten


def _lookup_host(host: str, host_map: dict[str, str]) -> str | None:
    """Exact host first, then the `www.` twin."""
    if not host:
        return None
    if host in host_map:
        return host_map[host]
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    return host_map.get(twin)


def parse_host_map(text: str) -> dict[str, str]:
    """Parse and validate a `WATCHDESK_HOST_MAP` value.

    Args:
        text: a JSON object of host -> http(s) base URL, e.g.
            `{"focustaiwan.tw": "http://127.0.0.1:8080/focustaiwan.tw"}`. Blank text means
            no map.

    Returns:
        The map with lower-case hosts.

    Raises:
        ValueError: on invalid JSON, a non-object, a duplicate or malformed host, or a value
            that is not an http(s) URL without query or fragment.
    """
    if not text.strip():
        return {}
    try:
        pairs = json.loads(text, object_pairs_hook=_JsonPairs)
    except json.JSONDecodeError as exc:
        raise ValueError(f"host map is not valid JSON: {exc}") from exc
    if not isinstance(pairs, _JsonPairs):
        raise ValueError("host map must be a JSON object of host -> base URL")
    result: dict[str, str] = {}
    for key, value in pairs:
        host = _check_host_key(key)
        if host in result:
            raise ValueError(f"host map names {host!r} twice")
        result[host] = _check_base_url(host, value)
    return result


class _JsonPairs(list[tuple[str, object]]):
    """A JSON object as its key/value pairs, so duplicate keys are seen, not silently merged."""


def _check_host_key(key: object) -> str:
    """A host-map key must be a bare host name or IP literal (no scheme, port or path)."""
    host = key.strip().lower() if isinstance(key, str) else ""
    if len(host) > 253 or not (_HOST_RE.match(host) or _is_ip(host)):
        raise ValueError(f"host map key {key!r} is not a bare host name (like 'focustaiwan.tw')")
    return host


def _check_base_url(host: str, value: object) -> str:
    """A host-map value must be an http(s) URL without query or fragment."""
    if not isinstance(value, str) or not is_http_url(value):
        raise ValueError(f"host map value for {host!r} is not an http(s) URL: {value!r}")
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError(f"host map value for {host!r} must not have a query or fragment")
    return value
