"""Names of the daemons' rows in shared tables (`lease` names, `run` kinds and owners).

A module of their own, with no imports of the store: `watchdesk status` finds those rows
with Core queries (`storage.overview`) and must not import the scheduler to know their names.
"""

from __future__ import annotations

import hashlib

#: The leader lease: its holder runs the once-only work (digests, notifications, feeds).
#: The row keeps its first name, from when only its holder ticked: no migration needed.
DAEMON_LEASE = "daemon-tick"
#: An outlet lease: one discovery run per outlet host at a time, fleet-wide.
DISCOVERY_PREFIX = "discovery:"
#: An open breaker: `breaker:<host>`, until the end of its cool-down, owner = trip count.
BREAKER_PREFIX = "breaker:"
#: The `run` kind of a digest period (owner: `slug_key` of the event).
DIGEST_KIND = "digest"


def slug_key(slug: str) -> str:
    """The slug as a `run.owner` (64 characters at most, still unique)."""
    if len(slug) <= 64:
        return slug
    return slug[:47] + "~" + hashlib.sha1(slug.encode(), usedforsecurity=False).hexdigest()[:16]
