"""A scan: poll PubMed for the policy query, window by window, and store what comes back.

The order of work, and why it cannot lose or duplicate anything:

1. Take the ``scan`` lease (one scan at a time per database); a holder on this host
   whose process is gone is taken over and its ledger row closed as ``crashed``.
2. Work out the create-date range: from the watermark minus the overlap (or the start
   setting for an empty store) up to today in PubMed's time zone.
3. Retry the backlog: records that an earlier esearch listed but efetch did not return.
4. For each window (oldest first), esearch with the History server; a window over the
   9,999 cap is halved until it fits. The IDs are reconciled against ``Count``.
5. efetch in batches; records asked for but not returned are asked for again by ID, and
   what is still missing goes to the backlog. Each batch is stored in one transaction;
   the last batch of a window moves the watermark in the same transaction.

A crash between transactions leaves whole batches and a watermark that covers only
complete windows; the next scan re-queries from the watermark and storing the same
content again is a no-op, so the result is the same as one uninterrupted scan.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import Row, select
from tqdm import tqdm

from classifiers.paper import Paper
from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..config import Settings
from ..drafts.pipeline import draft_pending
from ..errors import EutilsError, RunStopped, ScanInProgressError, WindowTooLargeError
from ..logs import kv
from ..pubmed.eutils import ESEARCH_CAP, EutilsClient, FetchResult, SearchResult, WebEnvExpired
from ..pubmed.windows import Window, plan_windows, pubmed_today
from ..store import backlog, leases, runs
from ..store.classifications import (
    check_policy_unchanged,
    store_classifications,
    unclassified,
)
from ..store.db import Database
from ..store.models import Record
from ..store.records import UpsertResult, mark_deleted, upsert_records

log = logging.getLogger(__name__)

SCAN_LEASE = "scan"


class ScanStopped(RunStopped):
    """A stop was requested (the daemon got SIGTERM): the scan ends between batches."""


class Classifier(Protocol):
    def classify(self, papers: Sequence[Paper]) -> list[ClassificationResult]: ...


def paper_from_row(row: Row[Any]) -> Paper:
    """The classifiers' view of a stored record."""
    return Paper(pmid=row.pmid, title=row.title, abstract=row.abstract,
                 mesh=tuple(m["descriptor"] for m in row.mesh),
                 publication_types=tuple(row.publication_types),
                 keywords=tuple(row.keywords), retracted=bool(row.is_retracted))


@dataclass
class ScanCounts:
    windows: int = 0
    found: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    restored: int = 0
    deleted: int = 0
    missing: int = 0
    backlog_recovered: int = 0
    backlog_gone: int = 0
    classified: int = 0
    drafted: int = 0

    def absorb(self, stored: UpsertResult) -> None:
        self.new += len(stored.new)
        self.changed += len(stored.changed)
        self.unchanged += len(stored.unchanged)
        self.restored += len(stored.restored)


@dataclass
class ScanReport:
    run_id: int | None
    start: dt.date | None
    end: dt.date | None
    watermark: dt.date | None
    outcome: str
    counts: ScanCounts = field(default_factory=ScanCounts)
    new_pmids: list[str] = field(default_factory=list)
    changed_pmids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        span = f"{self.start}..{self.end}" if self.start else "nothing to scan"
        return (f"scan {self.outcome}: {span}: {c.found} found, {c.new} new, "
                f"{c.changed} changed, {c.unchanged} unchanged, {c.deleted} deleted, "
                f"{c.missing} missing, {c.classified} classified, {c.drafted} drafted; "
                f"watermark {self.watermark or 'none'}")


class Scanner:
    """Runs scans of one policy's query into one database."""

    def __init__(self, settings: Settings, db: Database, policy: Policy, client: EutilsClient,
                 *, today: Callable[[], dt.date] = pubmed_today,
                 progress: bool | None = None, classifier: Classifier | None = None,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        #: Set from another thread to end the scan at the next batch or window boundary.
        self.stop = stop or threading.Event()
        self.classifier = classifier
        self.db = db
        self.policy = policy
        self.client = client
        self.today = today
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.owner = leases.make_owner()
        self._ttl = dt.timedelta(seconds=settings.scan.lock_ttl_seconds)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise ScanStopped("stop requested: ending the scan between batches")

    # -- the range to scan -----------------------------------------------------------
    def plan(self, since: dt.date | None, until: dt.date | None,
             watermark: dt.date | None) -> tuple[dt.date, dt.date]:
        scan = self.settings.scan
        today = self.today()
        if since is not None:
            start = since
        elif watermark is not None:
            start = watermark + dt.timedelta(days=1 - scan.overlap_days)
        elif scan.start is not None:
            start = scan.start
        else:
            start = today - dt.timedelta(days=scan.lookback_days)
        end = min(until or today, today)
        return start, end

    # -- the scan --------------------------------------------------------------------
    def run(self, since: dt.date | None = None, until: dt.date | None = None) -> ScanReport:
        with self.scan_lease("another scan is running on this database"):
            return self._run_locked(since, until)

    @contextmanager
    def scan_lease(self, busy: str) -> Iterator[None]:
        """Hold the database's scan lease (scans and rechecks never overlap); a run left
        by a dead holder is closed as ``crashed``. Refused with ``busy`` when held."""
        taken, previous = leases.acquire(self.db, SCAN_LEASE, self.owner, self._ttl)
        if not taken:
            held = leases.holder(self.db, SCAN_LEASE)
            who = f" by {held.owner} (until {held.expires_at:%Y-%m-%d %H:%M:%S}Z)" if held else ""
            raise ScanInProgressError(busy + who)
        try:
            if previous is not None:
                with self.db.write() as conn:
                    closed = runs.mark_crashed(conn, previous)
                log.warning(kv("scan_lock_taken_over", previous=previous, runs_closed=closed))
            yield
        finally:
            leases.release(self.db, SCAN_LEASE, self.owner)

    def _run_locked(self, since: dt.date | None, until: dt.date | None) -> ScanReport:
        query_sha = self.policy.query_sha256
        with self.db.read() as conn:
            check_policy_unchanged(conn, self.policy)
            watermark = runs.get_watermark(conn, query_sha)
        start, end = self.plan(since, until, watermark)
        report = ScanReport(0, start, end, watermark, "running")
        bar = tqdm(total=0, unit="rec", desc="scan", disable=not self.progress, leave=False)
        try:
            with runs.ledger(self.db, policy=self.policy, owner=self.owner, kind="scan",
                             counts=lambda: asdict(report.counts), report=report,
                             window_start=start, window_end=end) as run:
                log.info(kv("scan_start", run=run.run_id, start=start, end=end,
                            watermark=watermark, policy=self.policy.version))
                self._retry_backlog(report)
                if start <= end:
                    self._scan_range(report, start, end, bar)
                report.counts.classified += self.classify_pending()
                if self.classifier is not None:
                    report.counts.drafted = draft_pending(self.db, self.policy)
        finally:
            bar.close()
        log.info(kv("scan_done", run=report.run_id, **asdict(report.counts),
                    watermark=report.watermark))
        return report

    def _scan_range(self, report: ScanReport, start: dt.date, end: dt.date,
                    bar: tqdm[Any]) -> None:
        # Windows may join the watermark only if the scan starts at or before the day
        # after it; otherwise moving it would claim days that were never scanned.
        joins = report.watermark is None or start <= report.watermark + dt.timedelta(days=1)
        if not joins:
            log.warning(kv("watermark_not_moved", reason="window starts after the watermark",
                           start=start, watermark=report.watermark))
        complete_through = self.today() - dt.timedelta(days=1)
        cross_checked = False
        stack = list(reversed(list(plan_windows(start, end, self.settings.scan.window_days))))
        while stack:
            self.check_stop()
            window = stack.pop()
            result = self._search(window)
            if result.count > ESEARCH_CAP:
                if window.days == 1:
                    raise WindowTooLargeError(
                        f"create date {window.start} alone holds {result.count} records, more "
                        f"than esearch can page through ({ESEARCH_CAP}); narrow the query",
                        endpoint="esearch")
                first, second = window.split()
                log.info(kv("window_split", window=window, count=result.count,
                            into=f"{first} + {second}"))
                stack += [second, first]
                continue
            if result.count == 0 and not cross_checked:
                self._cross_check_empty(window)
                cross_checked = True
            report.counts.windows += 1
            report.counts.found += result.count
            bar.total = (bar.total or 0) + result.count
            bar.refresh()
            through = min(window.end, complete_through) if joins else None
            self._fetch_window(report, window, result, through, bar)

    def _search(self, window: Window) -> SearchResult:
        term = self.policy.search.query
        result = self.client.esearch(term, mindate=window.mindate, maxdate=window.maxdate,
                                     datetype=self.policy.search.datetype)
        if result.count <= ESEARCH_CAP and len(set(result.ids)) != result.count:
            log.warning(kv("esearch_count_mismatch", window=window, count=result.count,
                           ids=len(set(result.ids)), action="searching again"))
            result = self.client.esearch(term, mindate=window.mindate, maxdate=window.maxdate)
            if len(set(result.ids)) != result.count:
                raise EutilsError(
                    f"esearch for {window} returned {len(set(result.ids))} distinct IDs but "
                    f"Count {result.count}, twice; refusing to treat the window as complete",
                    endpoint="esearch")
        log.info(kv("window", window=window, count=result.count))
        return result

    def _cross_check_empty(self, window: Window) -> None:
        """Count 0 is a valid answer, but so would an outage look: check the query at all."""
        overall = self.client.esearch(self.policy.search.query, retmax=0, usehistory=False)
        if overall.count == 0:
            raise EutilsError(
                f"PubMed found nothing for {window} and nothing for the query at any date: "
                "an outage or a broken query; not moving the watermark", endpoint="esearch")

    def _vanished(self, window: Window, result: SearchResult) -> FetchResult:
        """Stored records of this window that esearch no longer lists, looked up by ID.

        PubMed drops deleted records from search results, and efetch returns nothing for
        them. A record missing from both is marked deleted; one that efetch still returns
        has changed so that it no longer matches the query, and is stored as it now is.
        """
        with self.db.read() as conn:
            known = set(conn.execute(select(Record.pmid).where(
                Record.create_date >= window.start, Record.create_date <= window.end,
                Record.deleted_at.is_(None))).scalars())
        gone = sorted(known.difference(result.ids))
        if not gone:
            return FetchResult()
        fetched = self.client.efetch_ids(gone)
        returned = {r.pmid for r in fetched.records}
        if returned:
            log.warning(kv("no_longer_matches_query", window=window,
                           pmids=",".join(sorted(returned)[:20])))
        absent = [p for p in gone if p not in returned and p not in fetched.deleted]
        if absent:
            log.warning(kv("deleted_upstream", window=window, pmids=",".join(absent[:20])))
        fetched.deleted += absent
        return fetched

    def _fetch_window(self, report: ScanReport, window: Window, result: SearchResult,
                      through: dt.date | None, bar: tqdm[Any]) -> None:
        """Fetch and store a window's records, batch by batch.

        The next batch is fetched (and parsed) in a worker thread while the current one
        is stored, so network, parsing and SQLite overlap; storing stays strictly in
        order, one transaction per batch, so a crash still leaves whole batches only.
        """
        vanished = self._vanished(window, result)
        batch = self.settings.eutils.batch_size
        starts = list(range(0, len(result.ids), batch)) or [0]
        history = [bool(result.webenv and result.query_key)]

        def fetch(retstart: int) -> tuple[FetchResult, list[str]]:
            expected = list(result.ids[retstart:retstart + batch])
            if not expected:
                return FetchResult(), []
            if history[0]:
                try:
                    fetched = self.client.efetch_history(
                        result.webenv or "", result.query_key or "", retstart, batch)
                    return self._recover_missing(expected, fetched)
                except WebEnvExpired as exc:
                    log.warning(kv("webenv_expired", window=window, error=str(exc),
                                   action="fetching the rest by ID"))
                    history[0] = False
            return self._recover_missing(expected, self.client.efetch_ids(expected))

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="efetch")
        try:
            pending = pool.submit(fetch, starts[0])
            for n in range(len(starts)):
                fetched, missing = pending.result()
                last = n == len(starts) - 1
                if not last:
                    pending = pool.submit(fetch, starts[n + 1])
                else:
                    fetched.records += vanished.records
                    fetched.deleted += vanished.deleted
                self._store_batch(report, fetched, missing, through if last else None)
                bar.update(len(fetched.records))
                leases.renew(self.db, SCAN_LEASE, self.owner, self._ttl)
                self.check_stop()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _recover_missing(self, expected: list[str],
                         fetched: FetchResult) -> tuple[FetchResult, list[str]]:
        got = {r.pmid for r in fetched.records}
        extra = got.difference(expected)
        if extra:
            log.warning(kv("efetch_unexpected", pmids=",".join(sorted(extra))))
        missing = [p for p in expected if p not in got and p not in fetched.deleted]
        if missing:
            log.warning(kv("efetch_missing", count=len(missing), pmids=",".join(missing[:20]),
                           action="asking again by ID"))
            again = self.client.efetch_ids(missing)
            fetched.records += again.records
            fetched.deleted += again.deleted
            got |= {r.pmid for r in again.records}
            missing = [p for p in missing if p not in got and p not in again.deleted]
            if missing:
                log.warning(kv("efetch_still_missing", count=len(missing),
                               pmids=",".join(missing[:20]), action="kept in the backlog"))
        return fetched, missing

    def _store_batch(self, report: ScanReport, fetched: FetchResult, missing: list[str],
                     through: dt.date | None) -> None:
        now = runs.utcnow()
        assert report.run_id is not None
        with self.db.write() as conn:
            stored = upsert_records(conn, fetched.records, scan_run_id=report.run_id, now=now)
            deleted = mark_deleted(conn, fetched.deleted, now=now)
            backlog.resolve(conn, [r.pmid for r in fetched.records] + fetched.deleted)
            backlog.add(conn, missing, report.run_id, now)
            report.counts.fetched += len(fetched.records)
            report.counts.absorb(stored)
            report.counts.deleted += len(deleted)
            report.counts.missing += len(missing)
            report.new_pmids += stored.new
            report.changed_pmids += stored.changed
            if through is not None:
                report.watermark = runs.advance_watermark(
                    conn, self.policy.query_sha256, through, report.run_id)
            runs.update_run(conn, report.run_id, counts=asdict(report.counts))

    # -- classification of what is stored -------------------------------------------
    def classify_pending(self, chunk: int = 256) -> int:
        """Classify every live record whose current version has no result under the policy;
        return how many were classified.

        Driven by the store, not by this run's counts, so records stored by a run that
        crashed before classifying are classified by the next one (and ``recheck`` calls it
        for the records it changed).
        """
        classified = 0
        if self.classifier is None:
            return classified
        while True:
            with self.db.read() as conn:
                pmids = unclassified(conn, self.policy, chunk)
                rows = conn.execute(select(Record.__table__).where(
                    Record.pmid.in_(pmids)).order_by(Record.pmid)).all() if pmids else []
            if not rows:
                return classified
            papers = [paper_from_row(row) for row in rows]
            results = self.classifier.classify(papers)
            if self.policy.fulltext is not None:      # full-text escalation (policy-pinned)
                from .fulltext import escalate
                results = escalate(self.db, self.client, self.policy, self.classifier, papers,
                                   {row.pmid: row.pmcid for row in rows}, results, runs.utcnow())
            from ..policy.curator_fulltext import with_curator_texts  # curators' copies, any policy
            results = with_curator_texts(self.db, self.classifier, papers, results)
            with self.db.write() as conn:
                classified += store_classifications(
                    conn, results, {row.pmid: row.content_hash for row in rows}, runs.utcnow())
            log.info(kv("classified", count=len(rows), total=classified))

    # -- the backlog of records asked for but not returned ---------------------------
    def _retry_backlog(self, report: ScanReport) -> None:
        with self.db.read() as conn:
            pending = backlog.pending(conn)
        if not pending:
            return
        log.info(kv("backlog_retry", count=len(pending)))
        batch = self.settings.eutils.batch_size
        limit = self.settings.scan.missing_max_attempts
        for i in range(0, len(pending), batch):
            self.check_stop()
            chunk = pending[i:i + batch]
            fetched = self.client.efetch_ids(chunk)
            got = {r.pmid for r in fetched.records} | set(fetched.deleted)
            now = runs.utcnow()
            with self.db.write() as conn:
                stored = upsert_records(conn, fetched.records, scan_run_id=report.run_id,
                                        now=now)
                report.counts.absorb(stored)
                report.counts.deleted += len(mark_deleted(conn, fetched.deleted, now=now))
                report.new_pmids += stored.new
                report.changed_pmids += stored.changed
                backlog.resolve(conn, sorted(got))
                report.counts.backlog_recovered += len(got)
                report.counts.backlog_gone += backlog.missed_again(
                    conn, [p for p in chunk if p not in got], now, limit)

