"""The recheck: re-fetch known records, store what changed, tell the curators.

Records change after they are first seen: MeSH arrives weeks later, errata, expressions
of concern and retractions are linked later (sometimes years later), records are deleted.
NLM's ``DateRevised`` is not a reliable signal, so the recheck re-fetches records by PMID,
oldest ``last_checked_at`` first, in batches through the same client, rate limiter and
retries as a scan, and compares content hashes:

- same hash: only ``last_checked_at`` moves (so the next recheck starts with others);
- new hash: a new version is stored and the record is re-classified under the active
  policy (the scan's own classification and drafting path);
- gone upstream (a ``DeleteCitation``, or not returned when asked twice): flagged deleted,
  its versions kept;
- newly retracted, a new expression of concern or erratum, or deleted: the paper's draft
  or approved entry goes back to the curators' queue with the reason, in the same
  transaction as the record change.

It holds the scan lease (so it never overlaps a scan, the daemon's or a manual one) and
is recorded in the ``scan_runs`` ledger as kind ``recheck``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from classifiers.policy import Policy

from ..config import Settings
from ..drafts.pipeline import draft_pending
from ..logs import kv
from ..pubmed.eutils import EutilsClient, FetchResult
from ..store import drafts, leases, runs
from ..store.classifications import check_policy_unchanged
from ..store.db import Database
from ..store.models import Record
from ..store.records import mark_deleted, upsert_records
from .scan import SCAN_LEASE, Classifier, Scanner

log = logging.getLogger(__name__)

#: CommentsCorrections link types that make a curator task (normalised: no spaces, lower).
NOTICES = {
    "retractionin": "retraction",
    "partialretractionin": "retraction",
    "expressionofconcernin": "expression of concern",
    "erratumin": "erratum",
}


@dataclass
class RecheckCounts:
    checked: int = 0
    unchanged: int = 0
    changed: int = 0
    restored: int = 0
    deleted: int = 0
    retracted: int = 0
    concern: int = 0
    erratum: int = 0
    requeued: int = 0
    classified: int = 0
    drafted: int = 0


@dataclass
class RecheckReport:
    run_id: int | None
    outcome: str
    counts: RecheckCounts = field(default_factory=RecheckCounts)
    changed_pmids: list[str] = field(default_factory=list)
    #: pmid -> the reasons it was turned into a curator task
    flagged: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        return (f"recheck {self.outcome}: {c.checked} checked, {c.changed} changed, "
                f"{c.unchanged} unchanged, {c.deleted} deleted, {c.retracted} retracted, "
                f"{c.concern} expressions of concern, {c.erratum} errata, "
                f"{c.requeued} re-queued, {c.classified} classified")


@dataclass(frozen=True)
class _Seen:
    content_hash: str
    retracted: bool
    notices: frozenset[tuple[str, str]]


def _notices(comments: Sequence[dict[str, Any]] | None) -> frozenset[tuple[str, str]]:
    found = set()
    for c in comments or ():
        kind = NOTICES.get(str(c.get("ref_type") or "").replace(" ", "").lower())
        if kind:
            found.add((kind, str(c.get("pmid") or c.get("ref_source") or "")))
    return frozenset(found)


def _seen(conn: Connection, pmids: Sequence[str]) -> dict[str, _Seen]:
    rows = conn.execute(select(Record.pmid, Record.content_hash, Record.is_retracted,
                               Record.comments_corrections).where(Record.pmid.in_(pmids)))
    return {p: _Seen(h, bool(r), _notices(cc)) for p, h, r, cc in rows}


def _reasons(before: _Seen, after: _Seen) -> dict[str, str]:
    """What a curator must look at (kind -> reason), comparing a record before and after."""
    reasons = {}
    new = after.notices - before.notices
    if after.retracted and not before.retracted:
        refs = sorted(p for k, p in new if k == "retraction" and p)
        where = f" (notice PMID {', '.join(refs)})" if refs else ""
        reasons["retraction"] = f"retracted upstream{where}: check the retraction notice"
    for kind in ("expression of concern", "erratum"):
        refs = sorted(p for k, p in new if k == kind)
        if refs:
            which = ", ".join(p for p in refs if p) or "unknown"
            reasons[kind] = f"{kind} published (PMID {which}): check whether the entry stands"
    return reasons


class Rechecker:
    """Runs rechecks of one database under one policy."""

    def __init__(self, settings: Settings, db: Database, policy: Policy, client: EutilsClient,
                 *, classifier: Classifier | None = None,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.client = client
        # The scan's classification and drafting path, and its stop flag and lease owner.
        self.scanner = Scanner(settings, db, policy, client, progress=False,
                               classifier=classifier, stop=stop)
        self.owner = self.scanner.owner
        self._ttl = dt.timedelta(seconds=settings.scan.lock_ttl_seconds)

    def run(self, limit: int | None = None) -> RecheckReport:
        """Re-check up to ``limit`` records (all live records when None or 0)."""
        with self.scanner.scan_lease("a scan or recheck is running on this database"):
            return self._run_locked(limit or None)

    def _run_locked(self, limit: int | None) -> RecheckReport:
        with self.db.read() as conn:
            check_policy_unchanged(conn, self.policy)
            stmt = (select(Record.pmid).where(Record.deleted_at.is_(None))
                    .order_by(Record.last_checked_at, Record.pmid))
            pmids = list(conn.execute(stmt.limit(limit) if limit else stmt).scalars())
        report = RecheckReport(0, "running")
        with runs.ledger(self.db, policy=self.policy, owner=self.owner, kind="recheck",
                         counts=lambda: asdict(report.counts), report=report) as run:
            log.info(kv("recheck_start", run=run.run_id, records=len(pmids), limit=limit,
                        policy=self.policy.version))
            batch = self.settings.eutils.batch_size
            for i in range(0, len(pmids), batch):
                self.scanner.check_stop()
                self._batch(report, pmids[i:i + batch])
            # the scan's own path classifies what changed
            report.counts.classified = self.scanner.classify_pending()
            if self.scanner.classifier is not None:
                report.counts.drafted = draft_pending(self.db, self.policy)
        log.info(kv("recheck_done", run=report.run_id, **asdict(report.counts)))
        return report

    def _fetch(self, pmids: list[str]) -> tuple[FetchResult, list[str]]:
        """The batch as PubMed has it now, and the PMIDs gone upstream."""
        wanted = set(pmids)
        fetched = self.client.efetch_ids(pmids)
        missing = [p for p in pmids if p not in {r.pmid for r in fetched.records}
                   and p not in fetched.deleted]
        if missing:  # a record left out once may be a glitch: ask again before believing it
            log.warning(kv("recheck_missing", count=len(missing), pmids=",".join(missing[:20]),
                           action="asking again by ID"))
            again = self.client.efetch_ids(missing)
            fetched.records += again.records
            fetched.deleted += again.deleted
            missing = [p for p in missing if p not in {r.pmid for r in again.records}
                       and p not in again.deleted]
        fetched.records = [r for r in fetched.records if r.pmid in wanted]
        gone = sorted({p for p in fetched.deleted if p in wanted} | set(missing))
        if gone:
            log.warning(kv("deleted_upstream", count=len(gone), pmids=",".join(gone[:20])))
        return fetched, gone

    def _batch(self, report: RecheckReport, pmids: list[str]) -> None:
        fetched, gone = self._fetch(pmids)
        now = runs.utcnow()
        c = report.counts
        assert report.run_id is not None
        with self.db.write() as conn:
            before = _seen(conn, pmids)
            stored = upsert_records(conn, fetched.records, scan_run_id=report.run_id, now=now)
            deleted = mark_deleted(conn, gone, now=now)
            after = _seen(conn, stored.changed)
            tasks: dict[str, list[str]] = {}
            for pmid in stored.changed:
                found = _reasons(before[pmid], after[pmid])
                c.retracted += "retraction" in found
                c.concern += "expression of concern" in found
                c.erratum += "erratum" in found
                if found:
                    tasks[pmid] = list(found.values())
            for pmid in deleted:
                tasks[pmid] = ["deleted from PubMed: check whether the entry should stand"]
            for pmid, reasons in sorted(tasks.items()):
                if drafts.requeue(conn, pmid, "; ".join(reasons), actor="recheck", now=now):
                    c.requeued += 1
            c.checked += len(pmids)
            c.unchanged += len(stored.unchanged)
            c.changed += len(stored.changed)
            c.restored += len(stored.restored)
            c.deleted += len(deleted)
            report.changed_pmids += stored.changed
            report.flagged.update(tasks)
            runs.update_run(conn, report.run_id, counts=asdict(c))
        for pmid, reasons in sorted(tasks.items()):
            log.warning(kv("recheck_flagged", pmid=pmid, reason="; ".join(reasons)))
        leases.renew(self.db, SCAN_LEASE, self.owner, self._ttl)
