"""The scan-run ledger and the per-query watermark."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from .. import __version__
from ..logs import redact
from ..policy import Policy
from .models import ScanRun, Watermark

OUTCOMES = ("running", "succeeded", "failed", "interrupted", "crashed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_run(conn: Connection, *, policy: Policy, owner: str, kind: str = "scan",
              window_start: dt.date | None = None,
              window_end: dt.date | None = None) -> int:
    result = conn.execute(insert(ScanRun).values(
        kind=kind, started_at=utcnow(), outcome="running", owner=owner,
        scanner_version=__version__, policy_id=policy.id, policy_version=policy.version,
        policy_sha256=policy.sha256, query=policy.search.query,
        window_start=window_start, window_end=window_end, counts={}))
    run_id = result.inserted_primary_key
    assert run_id is not None
    return int(run_id[0])


def update_run(conn: Connection, run_id: int, *, counts: dict[str, Any] | None = None,
               window_start: dt.date | None = None,
               window_end: dt.date | None = None) -> None:
    values: dict[str, Any] = {}
    if counts is not None:
        values["counts"] = counts
    if window_start is not None:
        values["window_start"] = window_start
    if window_end is not None:
        values["window_end"] = window_end
    if values:
        conn.execute(update(ScanRun).where(ScanRun.id == run_id).values(**values))


def finish_run(conn: Connection, run_id: int, *, outcome: str, counts: dict[str, Any],
               error: str | None = None) -> None:
    assert outcome in OUTCOMES
    conn.execute(update(ScanRun).where(ScanRun.id == run_id).values(
        outcome=outcome, finished_at=utcnow(), counts=counts,
        error=redact(error) if error is not None else None))


def mark_crashed(conn: Connection, owner: str) -> int:
    """Close the ledger rows of an owner whose process is gone."""
    result = conn.execute(update(ScanRun).where(
        ScanRun.owner == owner, ScanRun.outcome == "running").values(
        outcome="crashed", finished_at=utcnow(),
        error="the scanning process ended without closing this run (killed or crashed)"))
    return int(result.rowcount or 0)


def last_run(conn: Connection, kind: str = "scan") -> Row[Any] | None:
    return conn.execute(select(ScanRun.__table__).where(ScanRun.kind == kind)
                        .order_by(ScanRun.id.desc()).limit(1)).first()


def recent_runs(conn: Connection, limit: int = 10) -> list[Row[Any]]:
    return list(conn.execute(select(ScanRun.__table__).order_by(ScanRun.id.desc())
                             .limit(limit)))


def get_watermark(conn: Connection, query_sha256: str) -> dt.date | None:
    return conn.execute(select(Watermark.through_date).where(
        Watermark.query_sha256 == query_sha256)).scalar_one_or_none()


def advance_watermark(conn: Connection, query_sha256: str, through: dt.date,
                      run_id: int | None) -> dt.date:
    """Move the watermark forward to ``through`` (never backwards); returns the new value."""
    current = get_watermark(conn, query_sha256)
    if current is not None and current >= through:
        return current
    if current is None:
        conn.execute(insert(Watermark).values(query_sha256=query_sha256, through_date=through,
                                              updated_at=utcnow(), scan_run_id=run_id))
    else:
        conn.execute(update(Watermark).where(Watermark.query_sha256 == query_sha256).values(
            through_date=through, updated_at=utcnow(), scan_run_id=run_id))
    return through
