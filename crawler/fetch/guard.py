"""The address guard: is this URL's host public, so the crawler may fetch it?

A card, `crawl --url`, a feed, a sitemap or a redirect can name any host; a monitor that
fetches whatever it is told becomes a proxy into the newsroom's own network (SSRF): cloud
metadata (169.254.169.254, metadata.google.internal), loopback services, the office LAN.
So every host is refused when it is, or resolves to, an address that is not public:
loopback, private (RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared
CGNAT space (100.64.0.0/10), documentation and benchmark ranges, IPv6 forms embedding such an
IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, 6to4, NAT64, Teredo), and
the cloud metadata names and addresses. Every notation counts: `2130706433`, `0x7f.1`,
`0177.0.0.1`, `127.1`, `localhost.`, `[::1]`, percent-encoded or full-width digits. The
classification itself is the standard library's `ipaddress` module; resolution is
`socket.getaddrinfo` (injectable, for tests).

Exempt: hosts of the host map (their requests are rewritten to the local replay server, which
is how tests and the demo run) and the hosts a newsroom lists in
`WATCHDESK_ALLOW_PRIVATE_HOSTS` (an intranet CMS it really wants watched). A refusal message
names the host as written, never a host map target (`redact`).

Pure module: no Scrapy, no SQLAlchemy. Reads no settings itself except `env_allowed_hosts`
(the environment, for card checks made outside a crawl).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

#: Cloud metadata services by name (GCP, AWS, Azure, Alibaba, OpenStack/DigitalOcean aliases).
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.tencentyun.com",
    }
)
#: Metadata addresses; some sit in ranges that look public (Azure's wireserver), so by address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "168.63.129.16",
        "100.100.100.200",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)
#: Name suffixes that never name a public host (RFC 6761, RFC 6762, ICANN's `.internal`).
LOCAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "home.arpa", "lan", "intranet")
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_V4_PART = re.compile(r"^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


class GuardRefusal(ValueError):
    """A host the crawler must not fetch; the message says why (without any replay address)."""


def normalise_host(host: str) -> str:
    """Lower-case host without brackets, zone id, trailing dots, percent-escapes or
    full-width forms: the form resolvers actually see."""
    host = unicodedata.normalize("NFKC", unquote(host.strip())).translate(_DOTS).lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.split("%", 1)[0] if ":" in host else host
    return host.rstrip(".")


def parse_ip(host: str) -> IPAddress | None:
    """The address a host literal denotes in any notation resolvers accept, else None.

    IPv6 in brackets or not; IPv4 as inet_aton reads it: 1 to 4 dotted parts, each decimal,
    octal (leading 0) or hex (0x), the last part filling the remaining bytes (`127.1`,
    `0x7f.1`, `2130706433`).
    """
    host = normalise_host(host)
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.match(p) for p in parts):
        return None
    try:
        numbers = [_v4_number(p) for p in parts]
    except ValueError:  # "0x" alone
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    return ipaddress.IPv4Address(value * 256 ** (4 - len(head)) + last)


def _v4_number(part: str) -> int:
    """One dotted part as inet_aton reads it: hex after 0x, octal after a leading 0."""
    if part.startswith("0x"):
        return int(part, 16)
    return int(part, 8 if part[0] == "0" else 10)


def address_problem(address: IPAddress | str) -> str | None:
    """Why an address is not public ("loopback address", ...), or None when it is."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip in METADATA_ADDRESSES:
        return "cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"IPv6 form of a {problem}" if problem else None
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("shared (CGNAT)", ip in CGNAT),
        ("private", ip.is_private),
    ):
        if flag:
            return f"{label} address"
    if not ip.is_global:
        return "non-public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries (mapped, compatible, 6to4, NAT64,
    Teredo client)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or ip in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in IPV4_COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def name_problem(host: str) -> str | None:
    """Why a host *name* (or literal) is not public without asking DNS, or None."""
    host = normalise_host(host)
    if not host:
        return "no host"
    ip = parse_ip(host)
    if ip is not None:
        return address_problem(ip)
    if host in METADATA_HOSTS:
        return "cloud metadata host"
    if any(host == s or host.endswith("." + s) for s in LOCAL_SUFFIXES):
        return "local host name"
    if "." not in host or host.startswith("ip6-"):
        return "single-label host name (resolved inside the local network)"
    return None


def system_resolve(host: str) -> list[str]:
    """Every address `host` resolves to (getaddrinfo); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def host_problem(host: str, resolve: Resolver | None = system_resolve) -> str | None:
    """Why `host` must not be fetched: its name or literal, then every address it resolves
    to (one non-public answer is enough: the resolver may hand out any of them). None when
    public; a name that does not resolve is not refused here (no connection will be made).

    Args:
        host: a host name or IP literal in any notation.
        resolve: host -> addresses; None checks the name only.
    """
    problem = name_problem(host)
    if problem or resolve is None or parse_ip(host) is not None:
        return problem
    for address in resolve(normalise_host(host)):
        try:
            found = address_problem(address.split("%", 1)[0])
        except ValueError:
            continue
        if found:
            return f"resolves to a {found}"
    return None


class AddressGuard:
    """Decide per URL, with the exemptions of one configuration."""

    def __init__(
        self,
        host_map: Mapping[str, str] | None = None,
        allowed: Iterable[str] = (),
        resolve: Resolver | None = system_resolve,
    ) -> None:
        """
        Args:
            host_map: WATCHDESK_HOST_MAP (host -> base URL): its hosts are exempt, and its
                targets' hosts are hidden in refusal messages.
            allowed: WATCHDESK_ALLOW_PRIVATE_HOSTS, host names (or literals) let through.
            resolve: host -> addresses; None checks names and literals only.
        """
        self.host_map = dict(host_map or {})
        self.allowed = frozenset(normalise_host(h) for h in allowed if h.strip())
        self.resolve = resolve
        self._replay_hosts = frozenset(
            normalise_host(urlsplit(base).hostname or "") for base in self.host_map.values()
        )

    def exempt(self, host: str) -> bool:
        """True for a host of the host map (or its `www.` twin) or an allowed host."""
        host = normalise_host(host)
        twin = host[4:] if host.startswith("www.") else f"www.{host}"
        return host in self.host_map or twin in self.host_map or host in self.allowed

    def url_problem(self, url: str) -> str | None:
        """Why `url` must not be fetched, as a message fit for users and logs, or None."""
        try:
            host = urlsplit(url.strip()).hostname or ""
        except ValueError:
            return "malformed URL"
        if self.exempt(host):
            return None
        problem = host_problem(host, self.resolve)
        return f"host {self.shown(host)} is not public ({problem})" if problem else None

    def check(self, url: str) -> None:
        """Raise GuardRefusal when `url` must not be fetched."""
        problem = self.url_problem(url)
        if problem:
            raise GuardRefusal(problem)

    def peer_problem(self, host: str, peer: IPAddress | str | None) -> str | None:
        """Why the address actually connected to for `host` is not acceptable (DNS rebinding)."""
        if peer is None or self.exempt(host):
            return None
        problem = address_problem(peer)
        if problem is None:
            return None
        return f"host {self.shown(host)} connected to a {problem}"

    def shown(self, host: str) -> str:
        """The host for a message: a host map target is never shown."""
        return "(the replay server)" if normalise_host(host) in self._replay_hosts else host

    def redact(self, text: str) -> str:
        """`text` with every host map target base URL and host replaced."""
        for base in sorted(self.host_map.values(), key=len, reverse=True):
            text = text.replace(base.rstrip("/"), "(the replay server)")
        for host in self._replay_hosts:
            if host:
                text = text.replace(host, "(the replay server)")
        return text


def parse_allowed_hosts(value: str | Iterable[str] | None) -> list[str]:
    """A WATCHDESK_ALLOW_PRIVATE_HOSTS value: a list, or a comma/space separated string."""
    if not value:
        return []
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
    return [normalise_host(str(item)) for item in items if str(item).strip()]


def env_allowed_hosts() -> list[str]:
    """WATCHDESK_ALLOW_PRIVATE_HOSTS from the environment (card checks outside a crawl)."""
    return parse_allowed_hosts(os.environ.get("WATCHDESK_ALLOW_PRIVATE_HOSTS", ""))
