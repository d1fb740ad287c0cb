"""The daemon's own row: state, heartbeat, last/recent runs, failures and next runs.

Only the holder of the daemon lease writes it (every update is guarded by the owner), so
``scanner status`` in another process reads one consistent picture. Everything here runs
inside a caller's transaction, except :func:`heartbeat`, which renews the lease and the
row together.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from .leases import _owner_is_dead
from .models import DaemonState, Lease
from .runs import utcnow

#: The lease (and state row) name of the scanning daemon.
DAEMON = "daemon"
#: Runs kept in ``recent``.
RECENT = 10
FAILED = ("failed", "crashed")


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """ISO 8601; datetimes in UTC with their offset (SQLite returns them naive)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def load(conn: Connection, name: str = DAEMON) -> Row[Any] | None:
    return conn.execute(select(DaemonState.__table__).where(DaemonState.name == name)).first()


def claim(conn: Connection, owner: str, schedule: dict[str, Any], *,
          name: str = DAEMON) -> dict[str, Any] | None:
    """Make ``owner`` (which has just taken the lease) the row's writer.

    A previous holder that died with a job in hand gets that job recorded as crashed
    (and counted as a failure); that entry is returned.
    """
    now = utcnow()
    row = load(conn, name)
    crashed = None
    if row is None:
        conn.execute(insert(DaemonState).values(
            name=name, owner=owner, state="starting", started_at=now, updated_at=now,
            heartbeat_at=now, schedule=schedule, current=None, last_run=None, next_runs={},
            recent=[], consecutive_failures=0, total_failures=0))
        return None
    values: dict[str, Any] = {
        "owner": owner, "state": "starting", "started_at": now, "updated_at": now,
        "heartbeat_at": now, "schedule": schedule, "current": None, "next_runs": {}}
    if row.current:
        crashed = {**row.current, "end": iso(now), "outcome": "crashed",
                   "error": f"daemon {row.owner} ended with this job in hand"}
        values.update(last_run=crashed, recent=([crashed, *row.recent])[:RECENT],
                      consecutive_failures=row.consecutive_failures + 1,
                      total_failures=row.total_failures + 1)
    conn.execute(update(DaemonState).where(DaemonState.name == name).values(**values))
    return crashed


def set_state(conn: Connection, owner: str, state: str, *, name: str = DAEMON,
              **values: Any) -> bool:
    """Set the state (and any other columns) if ``owner`` still writes the row."""
    result = conn.execute(update(DaemonState).where(
        DaemonState.name == name, DaemonState.owner == owner).values(
        state=state, updated_at=utcnow(), **values))
    return bool(result.rowcount)


def job_started(conn: Connection, owner: str, job: str, start: dt.datetime, *,
                name: str = DAEMON) -> None:
    state = "scanning" if job == "scan" else "rechecking"
    set_state(conn, owner, state, name=name, current={"job": job, "start": iso(start)})


def job_finished(conn: Connection, owner: str, entry: dict[str, Any], *,
                 state: str = "idle", name: str = DAEMON) -> tuple[int, int]:
    """Record a finished job; returns (consecutive failures, total failures).

    A failure adds one to both counts, a success resets the consecutive count, and an
    interrupted or skipped run leaves them as they are.
    """
    row = load(conn, name)
    if row is None or row.owner != owner:
        return 0, 0
    consecutive, total = row.consecutive_failures, row.total_failures
    if entry["outcome"] in FAILED:
        consecutive, total = consecutive + 1, total + 1
    elif entry["outcome"] == "succeeded":
        consecutive = 0
    set_state(conn, owner, state, name=name, current=None, last_run=entry,
              recent=[entry, *row.recent][:RECENT], consecutive_failures=consecutive,
              total_failures=total)
    return consecutive, total


def heartbeat(conn: Connection, owner: str, ttl: dt.timedelta,
              next_runs: dict[str, str | None] | None, *, name: str = DAEMON) -> bool:
    """Renew the lease and the row's heartbeat together; False if the lease was lost."""
    now = utcnow()
    renewed = conn.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)
                           .values(heartbeat_at=now, expires_at=now + ttl))
    if not renewed.rowcount:
        return False
    values: dict[str, Any] = {"heartbeat_at": now}
    if next_runs is not None:
        values["next_runs"] = next_runs
    conn.execute(update(DaemonState).where(
        DaemonState.name == name, DaemonState.owner == owner).values(**values))
    return True


def describe(conn: Connection, name: str = DAEMON) -> dict[str, Any]:
    """The ``daemon`` object of ``scanner status --json``."""
    row = load(conn, name)
    lease = conn.execute(select(Lease.__table__).where(Lease.name == name)).first()
    now = utcnow()
    alive = False
    if lease is not None:
        expires = lease.expires_at if lease.expires_at.tzinfo else lease.expires_at.replace(
            tzinfo=dt.UTC)
        alive = expires > now and not _owner_is_dead(lease.owner)
    if row is None:
        state = "never started" if lease is None else "starting"
    elif lease is None:
        state = row.state if row.state == "stopped" else "stopped (unclean)"
    elif not alive:
        state = "dead (lease not yet taken over)"
    else:
        state = row.state
    owner = lease.owner if lease is not None else None
    same = row is not None and owner == row.owner
    return {
        "owner": owner,
        "alive": alive,
        "heartbeat": iso(lease.heartbeat_at) if lease is not None else (
            iso(row.heartbeat_at) if row is not None else None),
        "lease_expires": iso(lease.expires_at) if lease is not None else None,
        "state": state,
        "started": iso(row.started_at) if same and row is not None else None,
        "current": row.current if same and row is not None else None,
        "schedule": row.schedule if row is not None else None,
        "last_run": row.last_run if row is not None else None,
        "next_runs": (row.next_runs if same and row is not None and alive
                      else {"scan": None, "recheck": None}),
        "consecutive_failures": row.consecutive_failures if row is not None else 0,
        "total_failures": row.total_failures if row is not None else 0,
        "recent": row.recent if row is not None else [],
        "recent_outcomes": [r["outcome"] for r in row.recent] if row is not None else [],
    }
