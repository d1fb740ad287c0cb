"""The fetch backlog (``fetch_backlog``): PMIDs esearch listed but efetch did not return.

A missing record is remembered here instead of holding back the watermark; each scan
retries the pending ones, and after ``scan.missing_max_attempts`` misses one is ``gone``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, insert, select, update

from .models import FetchBacklog

_CHUNK = 500  # PMIDs per IN (...) list


def add(conn: Connection, pmids: list[str], run_id: int, now: dt.datetime) -> None:
    """Remember ``pmids`` as pending (one already in the backlog keeps its first miss)."""
    for pmid in pmids:
        exists = conn.execute(
            select(FetchBacklog.pmid).where(FetchBacklog.pmid == pmid)).first()
        if exists is None:
            conn.execute(insert(FetchBacklog).values(
                pmid=pmid, state="pending", attempts=1, first_missing_at=now,
                last_attempt_at=now, scan_run_id=run_id))


def resolve(conn: Connection, pmids: list[str]) -> None:
    """Forget ``pmids``: they were returned (or reported deleted) at last."""
    for i in range(0, len(pmids), _CHUNK):
        conn.execute(delete(FetchBacklog).where(FetchBacklog.pmid.in_(pmids[i:i + _CHUNK])))


def pending(conn: Connection) -> list[str]:
    """The PMIDs still to retry, in PMID order."""
    return list(conn.execute(select(FetchBacklog.pmid).where(
        FetchBacklog.state == "pending").order_by(FetchBacklog.pmid)).scalars())


def missed_again(conn: Connection, pmids: list[str], now: dt.datetime, limit: int) -> int:
    """Count one more miss for ``pmids``; mark those at ``limit`` misses ``gone``; return
    how many were given up."""
    if not pmids:
        return 0
    conn.execute(update(FetchBacklog).where(FetchBacklog.pmid.in_(pmids))
                 .values(attempts=FetchBacklog.attempts + 1, last_attempt_at=now))
    gone = conn.execute(update(FetchBacklog).where(
        FetchBacklog.pmid.in_(pmids), FetchBacklog.attempts >= limit).values(state="gone"))
    return int(gone.rowcount or 0)
