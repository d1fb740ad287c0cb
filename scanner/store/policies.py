"""The policy lifecycle in the store: draft, active (one at most), retired.

A policy file in ``policies/`` that has no row here is a draft. ``scanner policy
activate`` writes the rows: the new version becomes ``active`` with who and when, the
one it replaces becomes ``retired``. The store's active version, when set, overrides the
config's ``policy.active`` (which stays the default for a store that never activated one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Row, insert, inspect, select, update

from classifiers.policy import Policy

from ..errors import PolicyError
from .models import PolicyState

STATES = ("draft", "active", "retired")


def active_version(conn: Connection) -> str | None:
    """The version the store marks active, or None (none activated, or an older schema)."""
    if not inspect(conn).has_table(PolicyState.__tablename__):
        return None
    return conn.execute(select(PolicyState.version)
                        .where(PolicyState.state == "active")).scalar_one_or_none()


def states(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(PolicyState.__table__).order_by(PolicyState.version)))


def get(conn: Connection, version: str) -> Row[Any] | None:
    return conn.execute(select(PolicyState.__table__)
                        .where(PolicyState.version == version)).first()


def _upsert(conn: Connection, policy_id: str, version: str, sha256: str,
            values: dict[str, Any], now: dt.datetime) -> None:
    if get(conn, version) is None:
        conn.execute(insert(PolicyState).values(
            version=version, policy_id=policy_id, sha256=sha256, updated_at=now, **values))
    else:
        conn.execute(update(PolicyState).where(PolicyState.version == version)
                     .values(updated_at=now, **values))


def activate(conn: Connection, policy: Policy, *, by: str, now: dt.datetime,
             previous: Policy | None, note: str | None = None) -> None:
    """Mark ``policy`` active (who, when) and the one it replaces retired, in ``conn``.

    ``previous`` is the policy active before (from the store or the config); it gets a
    row too, so the history shows what was retired. A version recorded with another
    sha256 (its file changed since) is refused.
    """
    if not by.strip():
        raise PolicyError("say who activates the policy (--by NAME)")
    row = get(conn, policy.version)
    if row is not None and row.sha256 != policy.sha256:
        raise PolicyError(
            f"policy {policy.version} was recorded with sha256 {row.sha256[:12]}..., the file "
            f"now hashes to {policy.sha256[:12]}...; give the changed policy a new version")
    if row is not None and row.state == "active":
        raise PolicyError(f"policy {policy.version} is already active")
    for other in conn.execute(select(PolicyState.version)
                              .where(PolicyState.state == "active")).scalars():
        conn.execute(update(PolicyState).where(PolicyState.version == other)
                     .values(state="retired", retired_at=now, updated_at=now))
    if previous is not None and previous.version != policy.version:
        prev = get(conn, previous.version)
        if prev is None:
            _upsert(conn, previous.id, previous.version, previous.sha256,
                    {"state": "retired", "retired_at": now,
                     "note": "active by configuration before the first activation"}, now)
    _upsert(conn, policy.id, policy.version, policy.sha256,
            {"state": "active", "activated_by": by.strip(), "activated_at": now,
             "retired_at": None, "note": note}, now)


def stored_active_version(settings: Any) -> str | None:
    """The active version recorded in the configured store, without creating or migrating it.

    None when the store has none (or does not exist yet, or cannot be read: then the
    config's ``policy.active`` rules, as before any activation).
    """
    from pathlib import Path

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ..errors import ScannerError
    from .db import Database

    url = settings.database_url
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and (
                not parsed.database or parsed.database == ":memory:"
                or not Path(parsed.database).is_file()):
            return None
        db = Database(url, busy_timeout_ms=settings.database.busy_timeout_ms)
    except (ScannerError, SQLAlchemyError, ValueError):
        return None
    try:
        with db.read() as conn:
            return active_version(conn)
    except (ScannerError, SQLAlchemyError):
        return None
    finally:
        db.dispose()
