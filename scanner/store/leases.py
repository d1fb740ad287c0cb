"""Named leases in the database: one holder at a time, with heartbeat and expiry.

Works the same on SQLite and PostgreSQL: a lease row is taken inside a write transaction
(``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL the primary key and a conditional update
decide between racing takers). A holder on this host whose process has gone is treated
as expired at once, so a scan killed with SIGKILL does not block the next one.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Lease
from .runs import utcnow


def make_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """True when ``owner`` ran on this host and its process no longer exists."""
    try:
        host, pid_text, _token = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class LeaseState:
    name: str
    owner: str
    heartbeat_at: dt.datetime
    expires_at: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def acquire(db: Database, name: str, owner: str, ttl: dt.timedelta) -> tuple[bool, str | None]:
    """Try to take lease ``name``. Returns (taken, previous owner if it was taken over)."""
    now = utcnow()
    with db.write() as conn:
        lease = conn.execute(select(Lease.__table__).where(Lease.name == name)).first()
        if lease is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(Lease).values(
                        name=name, owner=owner, acquired_at=now, heartbeat_at=now,
                        expires_at=now + ttl))
            except IntegrityError:
                return False, None
            return True, None
        if lease.owner == owner:
            conn.execute(update(Lease).where(Lease.name == name).values(
                heartbeat_at=now, expires_at=now + ttl))
            return True, None
        if _aware(lease.expires_at) > now and not _owner_is_dead(lease.owner):
            return False, None
        taken = conn.execute(update(Lease).where(
            Lease.name == name, Lease.owner == lease.owner).values(
            owner=owner, acquired_at=now, heartbeat_at=now, expires_at=now + ttl))
        return bool(taken.rowcount), lease.owner


def renew(db: Database, name: str, owner: str, ttl: dt.timedelta) -> bool:
    now = utcnow()
    with db.write() as conn:
        result = conn.execute(update(Lease).where(
            Lease.name == name, Lease.owner == owner).values(
            heartbeat_at=now, expires_at=now + ttl))
        return bool(result.rowcount)


def release(db: Database, name: str, owner: str) -> None:
    with db.write() as conn:
        conn.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))


def holder(db: Database, name: str) -> LeaseState | None:
    with db.read() as conn:
        lease = conn.execute(select(Lease.__table__).where(Lease.name == name)).first()
    if lease is None:
        return None
    return LeaseState(lease.name, lease.owner, _aware(lease.heartbeat_at),
                      _aware(lease.expires_at))
