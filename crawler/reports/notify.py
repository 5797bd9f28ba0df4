"""Send a digest through Apprise: e-mail, Slack, Matrix, a JSON webhook… one URL each.

Delivery is best effort: a wrong URL or an unreachable service is logged and reported as
False, never raised, so a notification problem cannot stop the daemon (the digest files
are written before anything is sent).

Reads: WATCHDESK_NOTIFY_URLS (through the caller).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import apprise

logger = logging.getLogger(__name__)


def parse_urls(value: str | Iterable[str] | None) -> list[str]:
    """Apprise URLs from a setting: space- or comma-separated text, or a list."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [url for item in items for url in re.split(r"[\s,]+", item) if url]


def notify(urls: str | Iterable[str] | None, title: str, body_markdown: str) -> bool:
    """Send `body_markdown` with `title` to every Apprise URL.

    Args:
        urls: Apprise URLs (`mailto://…`, `slack://…`, `matrix://…`, `json://…`), as a
            space/comma-separated string or a list.
        title: the message title (mail subject, chat headline).
        body_markdown: the message in Markdown; Apprise converts it per service.

    Returns:
        True when every service accepted the message; False when there was nothing to send
        to, a URL was not understood, or a service failed (each case is logged).
    """
    wanted = parse_urls(urls)
    if not wanted:
        logger.debug("no notification URLs: nothing sent")
        return False
    client = apprise.Apprise()
    rejected = [url for url in wanted if not client.add(url)]
    for url in rejected:
        logger.error("notification URL not understood by Apprise: %s", _redacted(url))
    if len(client) == 0:
        return False
    try:
        sent = bool(client.notify(body=body_markdown, title=title, body_format="markdown"))
    except Exception:  # a plugin bug must not take the daemon down
        logger.exception("notification failed")
        return False
    if not sent:
        logger.error("a notification service refused or failed; see Apprise's log above")
    return sent and not rejected


def _redacted(url: str) -> str:
    """The URL without credentials (user:password@ and tokens after the host)."""
    scheme, sep, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return f"{scheme}{sep}{host}/…" if sep else "(unparsable)"
