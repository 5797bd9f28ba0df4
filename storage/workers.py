"""Worker rows: who is alive, told by a heartbeat in the store, never by guessing.

Every `watchdesk worker` and every daemon registers a `worker` row (name, host, pid, start,
last heartbeat) and beats it while it runs. A row whose heartbeat is older than the lease
time belongs to a dead process: `reap` gives its page leases, host leases and named leases
(the daemon leader's) back. A row of this very machine whose pid is gone (a kill -9 here)
is reaped at once, without waiting for the heartbeat to age — the one use of host and pid.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import HostLease, Lease, Page, Worker
from storage.repositories import process_alive


def worker_name() -> str:
    """`host:pid:random`, unique per process and readable in `watchdesk status`."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]


def beat(session: Session, name: str, now: datetime) -> None:
    """Record that `name` is alive (registering it again if it was reaped meanwhile)."""
    result = session.execute(update(Worker).where(Worker.name == name).values(heartbeat_at=now))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(
            Worker(
                name=name,
                host=socket.gethostname()[:255],
                pid=os.getpid(),
                started_at=now,
                heartbeat_at=now,
            )
        )
        session.flush()


def reap(
    session: Session, me: str, now: datetime, ttl: timedelta, handover: timedelta
) -> list[str]:
    """Declare dead the workers that stopped beating (or died on this machine); free their
    leases. Returns the names reaped.

    Their hosts are freed only after `handover` (the politeness delay): the dead worker may
    have sent a request an instant before it died.
    """
    here = socket.gethostname()[:255]
    dead = []
    for row in session.scalars(select(Worker).where(Worker.name != me)):
        if row.heartbeat_at < now - ttl or (row.host == here and not process_alive(row.pid)):
            dead.append(row.name)
    if dead:
        free_leases(session, dead, now, handover)
        session.execute(delete(Worker).where(Worker.name.in_(dead)))
    return dead


def retire(session: Session, name: str, now: datetime, handover: timedelta) -> None:
    """A clean stop: give every lease back and remove the row."""
    free_leases(session, [name], now, handover)
    session.execute(delete(Worker).where(Worker.name == name))


def free_leases(session: Session, owners: list[str], now: datetime, handover: timedelta) -> None:
    """Release the page, host and named leases of `owners` (the token stays: the next claim
    bumps it, which is what fences a late write out)."""
    session.execute(
        update(Page)
        .where(Page.lease_owner.in_(owners))
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(HostLease)
        .where(HostLease.owner.in_(owners))
        .values(owner=None, until=now + handover)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Lease).where(Lease.owner.in_(owners)))
