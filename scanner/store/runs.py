"""The scan-run ledger and the per-query watermark."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Row, insert, select, update

from classifiers.policy import Policy

from .. import __version__
from ..errors import RunStopped
from ..logs import kv, redact
from .db import Database
from .models import ScanRun, Watermark

log = logging.getLogger(__name__)

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


def outcome_of(exc: BaseException) -> str:
    """The one rule for a run that raised: a stop (Ctrl-C, SIGTERM's cooperative stop) is
    ``interrupted``; anything else is ``failed``. A process that dies without closing its
    row is ``crashed`` (:func:`mark_crashed`)."""
    return "interrupted" if isinstance(exc, KeyboardInterrupt | RunStopped) else "failed"


@contextmanager
def ledger(db: Database, *, policy: Policy, owner: str, kind: str,
           counts: Callable[[], dict[str, Any]], record: bool = True,
           report: Tracked | None = None, window_start: dt.date | None = None,
           window_end: dt.date | None = None) -> Iterator[LedgerRun]:
    """The run-ledger frame of every run (scan, recheck, rerun): a ``running`` row opened
    before the body and closed after it with ``succeeded`` or :func:`outcome_of` the
    exception (and its message), with ``counts()`` as they stood; ``report`` (if given)
    gets the run id and the outcome. ``record=False`` keeps the frame but writes nothing
    (run id 0)."""
    run = LedgerRun(0, kind, report)
    if record:
        with db.write() as conn:
            run.run_id = start_run(conn, policy=policy, owner=owner, kind=kind,
                                   window_start=window_start, window_end=window_end)
    run.set(run_id=run.run_id)
    try:
        yield run
    except BaseException as exc:
        run.set(outcome=outcome_of(exc))
        error = str(exc) or type(exc).__name__
        if record:
            with db.write() as conn:
                finish_run(conn, run.run_id, outcome=run.outcome, counts=counts(), error=error)
        log.error(kv(f"{kind}_{run.outcome}", run=run.run_id, error=error))
        raise
    run.set(outcome="succeeded")
    if record:
        with db.write() as conn:
            finish_run(conn, run.run_id, outcome="succeeded", counts=counts())


class Tracked(Protocol):
    """A run's report: the frame keeps its run id and outcome current."""

    run_id: int | None
    outcome: str


@dataclass
class LedgerRun:
    """The ledger row of a run in progress (``run_id`` 0 when nothing is recorded)."""

    run_id: int
    kind: str
    report: Tracked | None = None
    outcome: str = "running"

    def set(self, *, run_id: int | None = None, outcome: str | None = None) -> None:
        if run_id is not None:
            self.run_id = run_id
        if outcome is not None:
            self.outcome = outcome
        if self.report is not None:
            self.report.run_id = self.run_id
            self.report.outcome = self.outcome
