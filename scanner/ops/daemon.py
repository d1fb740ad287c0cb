"""``scanner daemon``: the scheduled scanner, one per database, stopping cleanly.

- **One active daemon per database.** The ``daemon`` lease row (``leases``; works on SQLite
  and PostgreSQL) is renewed by a heartbeat thread. A second daemon waits as a standby,
  making no E-utilities request, and takes over when the lease expires or its holder's
  process on this host is gone; with ``--no-wait`` it exits at once (status 6).
- **Schedules.** APScheduler 3 in this process only: a memory job store (no pickled job
  rows anyone could write), jobs registered by fixed id at start-up from ``[schedule]``
  (UTC cron; ``--interval`` replaces the scan's), ``coalesce``, ``max_instances=1`` and
  one worker thread, so a scan and a recheck never run at once here; the scan lease keeps
  them apart from a manual ``scanner scan`` too. The scan runs once at start-up: however
  many runs were missed, one catch-up scan from the stored watermark covers them.
- **Stopping.** SIGTERM or SIGINT stops the scheduling; the job in hand ends at its next
  batch boundary (the batch in hand commits or is never begun), the leases are released
  and the process exits 0 within 30 s. SIGKILL loses nothing: every batch is one
  transaction and the next run resumes from the watermark.
- **Observable.** State, heartbeat, last, recent and next runs and failure counts go to
  ``daemon_state`` for ``scanner status --json``; logs are one ``key=value`` line per
  event, repeated failures at error level with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from classifiers.policy import Policy

from ..config import Settings
from ..errors import ScanInProgressError, ScannerError
from ..ingest.recheck import Rechecker
from ..ingest.scan import SCAN_LEASE, Classifier, Scanner, ScanStopped
from ..logs import kv, redact
from ..pubmed.eutils import EutilsClient
from ..store import daemon_state, leases
from ..store.daemon_state import DAEMON, iso
from ..store.db import Database
from ..store.models import Record, ScanRun
from ..store.runs import utcnow
from .daemon_support import (
    DaemonLeaseHeld,
    DaemonLeaseLost,
    StoppableClassifier,
    leave_stragglers,
)

log = logging.getLogger(__name__)

#: The longest wait before retrying a failed run.
RETRY_MAX = 6 * 3600.0


class Daemon:
    def __init__(self, settings: Settings, db: Database, policy: Policy, *,
                 interval: float | None = None, wait: bool = True,
                 classifier: Classifier | None = None, hard_exit: bool = False) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.interval = interval
        self.wait = wait
        #: End the process at the stop deadline even if a worker thread is still busy.
        self.hard_exit = hard_exit
        self.owner = leases.make_owner()
        self.stop = threading.Event()
        self.lost_to: str | None = None
        self.classifier = None if classifier is None else StoppableClassifier(
            classifier, self.stop)
        # One client for the daemon's life (kept-alive connections, the shared limiter);
        # never closed under a request in flight: the process ends instead.
        self.client = EutilsClient(settings.eutils, sleep=self._sleep)
        cfg = settings.schedule
        self._ttl = dt.timedelta(seconds=cfg.lease_ttl_seconds)
        self._period = cfg.heartbeat_seconds
        self._scheduler: BackgroundScheduler | None = None
        self._heartbeat_stop = threading.Event()
        self._job_lock = threading.Lock()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._job_owner: str | None = None
        self._job_kind: str | None = None
        self._job_start: dt.datetime | None = None
        self._stop_at: float | None = None

    # -- life cycle ------------------------------------------------------------------
    def run(self) -> None:
        """Wait for the lease, schedule, run until stopped; returns after a clean stop."""
        self._install_signals()
        log.info(kv("daemon_start", owner=self.owner, database=self.db.display_url,
                    policy=self.policy.version, **self._schedule()))
        if not self._take_lease():
            log.info(kv("daemon_stopped", owner=self.owner, reason="stopped on standby"))
            return
        heartbeat = threading.Thread(target=self._heartbeat, name="daemon-heartbeat",
                                     daemon=True)
        try:
            crashed = self._write(daemon_state.claim, self._schedule())
            if crashed:
                log.warning(kv("daemon_previous_job_crashed", job=crashed["job"],
                               start=crashed["start"], error=crashed["error"]))
            self._write(daemon_state.set_state, "idle")
            heartbeat.start()
            self._scheduler = self._build_scheduler()
            self._scheduler.start()
            while not self.stop.wait(0.5):
                pass
        finally:
            self._shutdown(heartbeat)

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            log.warning(kv("daemon_signal", signal=name, action="already stopping"))
            return
        self._stop_at = time.monotonic()
        log.info(kv("daemon_stop_requested", signal=name, job=self._job_kind))
        self.stop.set()

    def _take_lease(self) -> bool:
        announced = False
        while not self.stop.is_set():
            try:
                taken, previous = leases.acquire(self.db, DAEMON, self.owner, self._ttl)
                held = None if taken else leases.holder(self.db, DAEMON)
            except SQLAlchemyError as exc:
                log.error(kv("daemon_lease_error", error=str(exc).splitlines()[0]))
                self.stop.wait(self._period)
                continue
            if taken:
                log.log(logging.WARNING if previous else logging.INFO,
                        kv("daemon_lease_taken", owner=self.owner, previous=previous))
                return True
            if held is None:
                continue
            if not self.wait:
                raise DaemonLeaseHeld(
                    f"another daemon holds the lease on this database: {held.owner} (last "
                    f"heartbeat {held.heartbeat_at:%Y-%m-%d %H:%M:%S}Z, expires "
                    f"{held.expires_at:%Y-%m-%d %H:%M:%S}Z); not waiting (--no-wait)")
            if not announced:
                log.info(kv("daemon_standby", owner=self.owner, holder=held.owner,
                            expires=iso(held.expires_at)))
                announced = True
            self.stop.wait(self._period)
        return False

    def _shutdown(self, heartbeat: threading.Thread) -> None:
        self.stop.set()
        with self._job_lock:
            self._closed = True  # a run queued behind the one in hand never starts
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.lost_to is None:
            self._write(daemon_state.set_state, "stopping", next_runs={})
        started = self._stop_at if self._stop_at is not None else time.monotonic()
        deadline = started + self.settings.schedule.stop_timeout_seconds
        abandoned = not self._idle.wait(max(0.0, deadline - time.monotonic()))
        if abandoned:
            self._abandon_job()
        self._heartbeat_stop.set()
        if heartbeat.is_alive():
            heartbeat.join(timeout=5)
        if self.lost_to is None:
            self._write(daemon_state.set_state, "stopped", current=None, next_runs={})
            try:
                leases.release(self.db, DAEMON, self.owner)
            except SQLAlchemyError as exc:
                log.error(kv("daemon_lease_release_failed", error=str(exc).splitlines()[0]))
        log.info(kv("daemon_stopped", owner=self.owner, lost_to=self.lost_to,
                    abandoned=abandoned or None))
        lost = None if self.lost_to is None else DaemonLeaseLost(
            f"daemon lease taken over by {self.lost_to}; stopped")
        leave_stragglers(deadline, lost, hard_exit=self.hard_exit)
        if lost is not None:
            raise lost

    def _abandon_job(self) -> None:
        """The job in hand did not reach a batch boundary in time: close its ledger row."""
        owner, kind, start = self._job_owner, self._job_kind, self._job_start
        error = "the daemon stopped before this run reached a batch boundary"
        log.error(kv("daemon_stop_deadline", job=kind,
                     seconds=self.settings.schedule.stop_timeout_seconds,
                     action="abandoning the batch in hand (nothing of it is stored)"))
        if owner is None or kind is None or start is None:
            return
        try:
            with self.db.write() as conn:
                run_id = conn.execute(select(ScanRun.id).where(
                    ScanRun.owner == owner, ScanRun.outcome == "running")).scalar()
                conn.execute(update(ScanRun).where(
                    ScanRun.owner == owner, ScanRun.outcome == "running").values(
                    outcome="interrupted", finished_at=utcnow(), error=error))
                daemon_state.job_finished(conn, self.owner, {
                    "job": kind, "start": iso(start), "end": iso(utcnow()),
                    "outcome": "interrupted", "run_id": run_id, "error": error,
                    "summary": None}, state="stopping")
            leases.release(self.db, SCAN_LEASE, owner)
        except SQLAlchemyError as exc:
            log.error(kv("daemon_abandon_failed", error=str(exc).splitlines()[0]))

    # -- heartbeat ---------------------------------------------------------------------
    def _heartbeat(self) -> None:
        while not self._heartbeat_stop.wait(self._period):
            try:
                with self.db.write() as conn:
                    ok = daemon_state.heartbeat(conn, self.owner, self._ttl, self._next_runs())
            except SQLAlchemyError as exc:
                log.error(kv("daemon_heartbeat_failed", error=str(exc).splitlines()[0]))
                continue
            if not ok:
                held = leases.holder(self.db, DAEMON)
                self.lost_to = held.owner if held else "nobody (lease released)"
                log.error(kv("daemon_lease_lost", owner=self.owner, holder=self.lost_to,
                             action="stopping"))
                self._stop_at = time.monotonic()
                self.stop.set()
                return

    # -- scheduling ------------------------------------------------------------------
    def _schedule(self) -> dict[str, Any]:
        cfg = self.settings.schedule
        scan = f"every {self.interval:g} s" if self.interval else f"cron {cfg.scan_cron} UTC"
        return {"scan": scan, "recheck": f"cron {cfg.recheck_cron} UTC"}

    def _build_scheduler(self) -> BackgroundScheduler:
        cfg = self.settings.schedule
        scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": cfg.misfire_grace_seconds},
            timezone=dt.UTC)
        logging.getLogger("apscheduler").setLevel(logging.ERROR)  # ours are one-line kv
        scan_trigger = (IntervalTrigger(seconds=self.interval, timezone=dt.UTC)
                        if self.interval else CronTrigger.from_crontab(cfg.scan_cron, dt.UTC))
        now = dt.datetime.now(dt.UTC)
        # The catch-up scan: at once, whatever was missed while no daemon ran.
        scheduler.add_job(self._job, scan_trigger, args=["scan"], id="scan", name="scan",
                          replace_existing=True, next_run_time=now)
        recheck_trigger = CronTrigger.from_crontab(cfg.recheck_cron, dt.UTC)
        catch_up = {"next_run_time": now} if self._recheck_overdue(recheck_trigger, now) else {}
        scheduler.add_job(self._job, recheck_trigger, args=["recheck"], id="recheck",
                          name="recheck", replace_existing=True, **catch_up)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        return scheduler

    def _recheck_overdue(self, trigger: CronTrigger, now: dt.datetime) -> bool:
        """True when a live record was last checked before a recheck time that has passed."""
        with self.db.read() as conn:
            oldest = conn.execute(select(func.min(Record.last_checked_at)).where(
                Record.deleted_at.is_(None))).scalar()
        if oldest is None:
            return False
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        missed = trigger.get_next_fire_time(None, oldest)
        if missed is None or missed > now:
            return False
        log.info(kv("daemon_recheck_overdue", oldest_check=iso(oldest), missed=iso(missed),
                    action="rechecking after the catch-up scan"))
        return True

    def _on_missed(self, event: JobEvent) -> None:
        missed = event.code == EVENT_JOB_MISSED
        log.log(logging.WARNING if missed else logging.INFO, kv(
            "daemon_run_skipped", job=event.job_id,
            reason="missed" if missed else "previous run still going",
            scheduled=iso(getattr(event, "scheduled_run_time", None))))

    def _next_runs(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {"scan": None, "recheck": None}
        scheduler = self._scheduler
        if scheduler is None or self.stop.is_set():
            return out
        for job_id in out:
            job = scheduler.get_job(job_id)
            out[job_id] = iso(job.next_run_time) if job and job.next_run_time else None
        return out

    def _retry_soon(self, kind: str, failures: int) -> None:
        base = self.settings.schedule.retry_seconds
        job = self._scheduler.get_job(kind) if self._scheduler is not None else None
        if not base or job is None or self.stop.is_set():
            return
        when = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=min(base * 2 ** max(failures - 1, 0), RETRY_MAX))
        if job.next_run_time is None or when < job.next_run_time:
            job.modify(next_run_time=when)
            log.info(kv("daemon_retry_scheduled", job=kind, at=iso(when)))

    # -- the jobs ----------------------------------------------------------------------
    def _job(self, kind: str) -> None:
        with self._job_lock:
            if self._closed or self.stop.is_set():
                return
            self._idle.clear()
            self._job_kind = kind
        try:
            self._run_job(kind)
        finally:
            self._job_owner = self._job_kind = self._job_start = None
            self._idle.set()

    def _sleep(self, seconds: float) -> None:
        """The client's wait between retries, cut short by a stop request."""
        if self.stop.wait(seconds):
            raise ScanStopped("stop requested during a retry wait")

    def _run_job(self, kind: str) -> None:
        start = self._job_start = utcnow()
        self._write(daemon_state.job_started, kind, start)
        log.info(kv("daemon_job_start", job=kind))
        summary = error = None
        worker: Scanner | Rechecker | None = None
        try:
            if kind == "scan":
                worker = Scanner(self.settings, self.db, self.policy, self.client,
                                 progress=False, classifier=self.classifier, stop=self.stop)
                self._job_owner = worker.owner
                summary = worker.run().summary()
            else:
                worker = Rechecker(self.settings, self.db, self.policy, self.client,
                                   classifier=self.classifier, stop=self.stop)
                self._job_owner = worker.owner
                summary = worker.run(self.settings.schedule.recheck_limit or None).summary()
            outcome = "succeeded"
        except ScanStopped as exc:
            outcome, error = "interrupted", str(exc)
        except ScanInProgressError as exc:
            outcome, error = "skipped", str(exc)
        except ScannerError as exc:
            outcome, error = "failed", str(exc)
        except Exception as exc:
            outcome, error = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            log.debug("daemon job traceback", exc_info=True)
        self._finish(kind, start, outcome, error, summary, worker.owner if worker else None)

    def _finish(self, kind: str, start: dt.datetime, outcome: str, error: str | None,
                summary: str | None, owner: str | None) -> None:
        end = utcnow()
        run_id = None
        if owner is not None:
            with self.db.read() as conn:
                run_id = conn.execute(select(ScanRun.id).where(ScanRun.owner == owner)
                                      .order_by(ScanRun.id.desc()).limit(1)).scalar()
        entry = {"job": kind, "start": iso(start), "end": iso(end), "outcome": outcome,
                 "run_id": run_id, "error": redact(error) if error else error,
                 "summary": summary}
        state = "stopping" if self.stop.is_set() else "idle"
        counted = self._write(daemon_state.job_finished, entry, state=state)
        consecutive, total = counted if counted else (0, 0)
        fields: dict[str, Any] = {"job": kind, "run": run_id, "outcome": outcome,
                                  "seconds": f"{(end - start).total_seconds():.1f}"}
        if outcome == "succeeded":
            log.info(kv("daemon_job_done", **fields, summary=summary))
        elif outcome == "failed" and consecutive >= 2:
            log.error(kv("daemon_repeated_failures", **fields, consecutive=consecutive,
                         total_failures=total, reason=error))
        else:
            log.warning(kv("daemon_job_" + outcome, **fields, consecutive=consecutive,
                           total_failures=total, reason=error))
        if outcome in ("failed", "skipped"):
            self._retry_soon(kind, max(consecutive, 1))
        self._write(daemon_state.set_state, state, next_runs=self._next_runs())

    def _write(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One write to the daemon's state row; a database error is logged, not raised."""
        try:
            with self.db.write() as conn:
                return func(conn, self.owner, *args, **kwargs)
        except SQLAlchemyError as exc:
            log.error(kv("daemon_state_write_failed", error=str(exc).splitlines()[0]))
            return None
