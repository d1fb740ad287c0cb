"""What ``scanner status --json`` reports: the store, the policy, the last scan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select

from classifiers.policy import Policy

from .. import __version__
from ..store import daemon_state, leases, runs
from ..store.classifications import counts_by_policy
from ..store.db import Database
from ..store.drafts import counts_by_state
from ..store.models import FetchBacklog, Record, RecordVersion
from ..store.records import count_records

_iso = daemon_state.iso


def _run_json(run: Row[Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "start": _iso(run.started_at), "end": _iso(run.finished_at),
            "outcome": run.outcome, "window_start": _iso(run.window_start),
            "window_end": _iso(run.window_end), "policy_version": run.policy_version,
            "counts": run.counts, "error": run.error}


def status(db: Database, policy: Policy) -> dict[str, Any]:
    with db.read() as conn:
        total = count_records(conn)
        deleted = count_records(conn, include_deleted=True) - total
        versions = conn.execute(select(func.count()).select_from(RecordVersion)).scalar_one()
        retracted = conn.execute(select(func.count()).select_from(Record).where(
            Record.is_retracted.is_(True), Record.deleted_at.is_(None))).scalar_one()
        backlog = dict(conn.execute(select(FetchBacklog.state, func.count())
                                    .group_by(FetchBacklog.state)).all())
        watermark = runs.get_watermark(conn, policy.query_sha256)
        last = runs.last_run(conn)
        classifications = counts_by_policy(conn)
        drafts = counts_by_state(conn)
        recent = [r.outcome for r in runs.recent_runs(conn, 10)]
        last_recheck = runs.last_run(conn, "recheck")
        daemon = daemon_state.describe(conn)
    failures = 0
    for outcome in recent:
        if outcome == "succeeded":
            break
        if outcome in ("failed", "crashed", "interrupted"):
            failures += 1
    lock = leases.holder(db, "scan")
    return {
        "scanner_version": __version__,
        "database": db.display_url,
        "schema_version": db.current_revision(),
        "records": {"total": total, "deleted": deleted, "versions": int(versions),
                    "retracted": int(retracted)},
        "active_policy": policy.version,
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "classifications": classifications,
        "drafts": drafts,
        "watermark": _iso(watermark),
        "last_scan": _run_json(last),
        "last_recheck": _run_json(last_recheck),
        "daemon": daemon,
        "recent_outcomes": recent,
        "consecutive_failures": failures,
        "backlog": {"pending": backlog.get("pending", 0), "gone": backlog.get("gone", 0)},
        "scan_lock": None if lock is None else {
            "owner": lock.owner, "heartbeat": _iso(lock.heartbeat_at),
            "expires": _iso(lock.expires_at)},
    }
