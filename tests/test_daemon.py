"""``scanner daemon`` as a real process against a real local E-utilities server.

Each test starts ``.venv/bin/scanner daemon`` (a few-second interval where it matters)
on a fresh database and watches it from outside: the replay server's request log, the
ledger, the lease rows and ``scanner status``. Waits poll with deadlines.
"""

from __future__ import annotations

import datetime as dt
import itertools
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from classifiers.policy import load_policy
from scanner.config import ScheduleSettings
from scanner.ingest.scan import Scanner
from scanner.ops.status import status
from scanner.pubmed.eutils import EutilsClient
from scanner.pubmed.ratelimit import RateLimiter
from scanner.pubmed.windows import pubmed_today
from scanner.store import leases, runs
from scanner.store.db import Database, open_database
from scanner.store.journal import sqlite_has_wal_race
from scanner.store.models import Lease, Record, RecordVersion, ScanRun
from tests.conftest import make_settings
from tests.daemon_support import (
    SCANNER,
    DaemonProcess,
    daemon_env,
    dated_copy,
    until,
    with_publication_type,
    write_config,
)

Spawn = Callable[..., DaemonProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    started: list[DaemonProcess] = []

    def start(cfg: Path, env: dict[str, str], *args: str) -> DaemonProcess:
        proc = DaemonProcess(tmp_path / f"daemon-{len(started)}.log", cfg, env, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def ledger(db: Database, kind: str = "scan") -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(select(ScanRun.__table__).where(ScanRun.kind == kind)
                                 .order_by(ScanRun.id)))


def succeeded(db: Database, kind: str = "scan") -> list[Any]:
    return [r for r in ledger(db, kind) if r.outcome == "succeeded"]


def versions(db: Database) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(select(RecordVersion.pmid, func.count())
                            .group_by(RecordVersion.pmid)).all()
    return {pmid: n for pmid, n in rows}


def record_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Record)).scalar_one())


def daemon_status(db: Database, tmp_path: Path) -> dict[str, Any]:
    return status(db, load_policy(tmp_path / "policies", "t0"))["daemon"]


def assert_released(db: Database) -> None:
    assert leases.holder(db, "daemon") is None
    assert leases.holder(db, "scan") is None
    assert not [r for r in ledger(db) + ledger(db, "recheck") if r.outcome == "running"]


def seed(tmp_path: Path, server: Any, db_url: str, until_day: dt.date | None = None) -> Scanner:
    """Scan in this process with the fast policy (no daemon), up to ``until_day``."""
    write_config(tmp_path)  # writes the fast policy
    settings = make_settings(tmp_path, server.base_url, db_url=db_url, extra=(
        f'[policy]\ndir = "{tmp_path / "policies"}"\nactive = "t0"\n'))
    db = open_database(settings.database_url)
    policy = load_policy(settings.policy_dir, "t0")
    client = EutilsClient(settings.eutils, limiter=RateLimiter(0), sleep=lambda _s: None)
    scanner = Scanner(settings, db, policy, client, progress=False)
    scanner.run(since=dt.date(2006, 1, 1), until=until_day)
    return scanner


FAULTS = [("status", {"status": 429}), ("status", {"status": 502}), ("error_200", {}),
          ("html", {}), ("truncated", {}), ("drop", {}), ("empty", {}), ("text", {})]


def test_the_daemon_scans_through_faults_on_its_interval_and_stops_on_sigterm(
        tmp_path: Path, eutils_server: Any, db_url: str, spawn: Spawn) -> None:
    for kind, opts in FAULTS:
        eutils_server.faults.add(kind, endpoint="efetch", **opts)
    eutils_server.faults.add("error_200", endpoint="esearch")
    eutils_server.faults.add("status", endpoint="esearch", status=503)
    cfg = write_config(tmp_path, extra="[eutils]\nmax_attempts = 10\n")
    daemon = spawn(cfg, daemon_env(eutils_server, db_url), "--interval", "2")
    db = open_database(db_url)
    # the catch-up scan at start-up, then at least one run on the 2-second interval
    until(lambda: len(succeeded(db)) >= 2, 120, "two successful scans", daemon.log)
    assert versions(db) == dict.fromkeys(eutils_server.corpus.pmids(), 1)
    assert len([r.fault for r in eutils_server.requests if r.fault]) == len(FAULTS) + 2
    scans = ledger(db)
    for earlier, later in itertools.pairwise(scans):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at
    assert ledger(db, "recheck") == []  # records just fetched: no sweep is due

    info = daemon_status(db, tmp_path)
    assert info["owner"].startswith(daemon.owner_prefix) and info["alive"] is True
    assert info["state"] in ("idle", "scanning")
    assert info["consecutive_failures"] == 0 and info["total_failures"] == 0
    assert info["last_run"]["outcome"] == "succeeded" and info["last_run"]["job"] == "scan"
    assert info["recent_outcomes"][:2] == ["succeeded", "succeeded"]
    assert info["next_runs"]["scan"] and info["next_runs"]["recheck"]
    assert info["schedule"] == {"scan": "every 2 s", "recheck": "cron 0 8 * * 0 UTC"}
    heartbeat = info["heartbeat"]
    until(lambda: daemon_status(db, tmp_path)["heartbeat"] != heartbeat, 5, "a heartbeat")

    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()
    assert time.monotonic() - started < 30
    assert_released(db)
    info = daemon_status(db, tmp_path)
    assert info["state"] == "stopped" and info["owner"] is None
    assert info["next_runs"] == {"scan": None, "recheck": None}
    log = daemon.log()
    assert "daemon_stop_requested signal=SIGTERM" in log and "daemon_stopped" in log
    assert "Traceback" not in log


def test_sigterm_mid_scan_ends_at_a_batch_boundary_then_a_restart_completes(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'term.sqlite'}"
    eutils_server.delay_all = 0.1  # about 40 requests: the scan takes seconds
    env = daemon_env(eutils_server, db_url)
    cfg = write_config(tmp_path)
    daemon = spawn(cfg, env, "--interval", "3600")
    db = open_database(db_url)
    until(lambda: record_count(db) >= 40, 60, "40 stored records", daemon.log)
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()
    assert time.monotonic() - started < 30
    assert [r.outcome for r in ledger(db)] == ["interrupted"]
    partial = versions(db)
    assert 0 < len(partial) < 354 and set(partial.values()) == {1}
    assert_released(db)
    info = daemon_status(db, tmp_path)
    assert info["state"] == "stopped" and info["last_run"]["outcome"] == "interrupted"
    assert info["consecutive_failures"] == 0  # a requested stop is not a failure

    eutils_server.delay_all = 0
    again = spawn(cfg, env, "--interval", "3600")
    until(lambda: succeeded(db), 60, "the resumed scan", again.log)
    assert versions(db) == dict.fromkeys(eutils_server.corpus.pmids(), 1)
    with db.read() as conn:
        mark = runs.get_watermark(conn, load_policy(tmp_path / "policies", "t0").query_sha256)
    assert mark == pubmed_today() - dt.timedelta(days=1)
    again.send(signal.SIGINT)
    assert again.wait(timeout=30) == 0, again.log()
    assert_released(db)


@pytest.mark.slow
def test_sigkill_mid_scan_then_restart_has_no_gap_and_no_duplicate(
        tmp_path: Path, eutils_server: Any, db_url: str, spawn: Spawn) -> None:
    eutils_server.delay_all = 0.05
    env = daemon_env(eutils_server, db_url)
    cfg = write_config(tmp_path)
    daemon = spawn(cfg, env, "--interval", "3600")
    db = open_database(db_url)
    until(lambda: record_count(db) >= 60, 60, "60 stored records", daemon.log)
    n = len(eutils_server.requests)  # kill between a request and its batch's commit
    until(lambda: len(eutils_server.requests) > n, 10, "the next request")
    daemon.send(signal.SIGKILL)
    assert daemon.wait(timeout=10) == -signal.SIGKILL
    assert [r.outcome for r in ledger(db)] == ["running"]
    held = leases.holder(db, "daemon")
    assert held is not None and held.owner.startswith(daemon.owner_prefix)

    eutils_server.delay_all = 0
    again = spawn(cfg, env, "--interval", "3600")
    until(lambda: succeeded(db), 60, "the resumed scan", again.log)
    assert versions(db) == dict.fromkeys(eutils_server.corpus.pmids(), 1)
    assert [r.outcome for r in ledger(db)] == ["crashed", "succeeded"]
    info = daemon_status(db, tmp_path)
    assert info["owner"].startswith(again.owner_prefix)
    until(lambda: daemon_status(db, tmp_path)["state"] == "idle", 10, "idle")
    info = daemon_status(db, tmp_path)
    assert info["recent_outcomes"] == ["succeeded", "crashed"]
    assert info["total_failures"] == 1 and info["consecutive_failures"] == 0
    assert "daemon_lease_taken" in again.log() and "previous=" in again.log()
    again.send(signal.SIGTERM)
    assert again.wait(timeout=30) == 0, again.log()
    assert_released(db)


def test_a_second_daemon_waits_without_requests_and_takes_over_when_the_first_dies(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'pair.sqlite'}"
    env = daemon_env(eutils_server, db_url)
    cfg = write_config(tmp_path)
    first = spawn(cfg, env, "--interval", "3600")
    db = open_database(db_url)
    until(lambda: succeeded(db), 60, "the first daemon's scan", first.log)
    eutils_server.clear_requests()

    refused = subprocess.run([str(SCANNER), "--config", str(cfg), "daemon", "--no-wait"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 6
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("scanner: error: another daemon holds the lease on this database: "
                           + first.owner_prefix)
    assert last.endswith("not waiting (--no-wait)")

    second = spawn(cfg, env, "--interval", "2")
    second.wait_log("daemon_standby")
    time.sleep(5 * 0.3)  # five lease checks by the standby
    assert eutils_server.requests == []
    held = leases.holder(db, "daemon")
    assert held is not None and held.owner.startswith(first.owner_prefix)

    first.send(signal.SIGKILL)
    first.wait(timeout=10)
    until(lambda: any(r.owner.startswith(second.owner_prefix) for r in succeeded(db)), 30,
          "a scan by the second daemon", second.log)
    assert eutils_server.requests
    held = leases.holder(db, "daemon")
    assert held is not None and held.owner.startswith(second.owner_prefix)
    second.send(signal.SIGTERM)
    assert second.wait(timeout=30) == 0, second.log()
    assert_released(db)


def test_an_expired_lease_of_another_host_is_taken_over(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'host.sqlite'}"
    db = open_database(db_url)
    other = "elsewhere.example:4242:0123abcd"  # alive as long as this test renews it
    assert socket.gethostname() != "elsewhere.example"
    ttl = dt.timedelta(seconds=1.5)
    assert leases.acquire(db, "daemon", other, ttl)[0]
    daemon = spawn(write_config(tmp_path), daemon_env(eutils_server, db_url), "--interval", "60")

    def standby() -> bool:
        assert leases.renew(db, "daemon", other, ttl)
        return "daemon_standby" in daemon.log()

    until(standby, 60, "the standby", daemon.log)
    for _ in range(3):  # three of its lease checks while the other host is alive
        assert leases.renew(db, "daemon", other, ttl)
        time.sleep(0.3)
    assert eutils_server.requests == [] and ledger(db) == []
    # the other host stops renewing: the lease expires and the standby takes over
    until(lambda: succeeded(db), 30, "a scan after the lease expired", daemon.log)
    assert f"previous={other}" in daemon.log()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()


def test_a_daemon_whose_lease_was_taken_stops_with_a_clear_error(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'lost.sqlite'}"
    daemon = spawn(write_config(tmp_path), daemon_env(eutils_server, db_url),
                   "--interval", "3600")
    db = open_database(db_url)
    until(lambda: succeeded(db), 60, "the scan", daemon.log)
    thief = "elsewhere.example:1:feedface"  # as if ours had expired while we were frozen
    with db.write() as conn:
        conn.execute(update(Lease).where(Lease.name == "daemon").values(owner=thief))
    assert daemon.wait(timeout=30) == 3, daemon.log()
    lines = daemon.log().strip().splitlines()
    assert lines[-1] == f"scanner: error: daemon lease taken over by {thief}; stopped"
    assert any("level=ERROR" in line and "daemon_lease_lost" in line for line in lines)
    held = leases.holder(db, "daemon")
    assert held is not None and held.owner == thief  # not released: it is not ours


def test_sigterm_while_pubmed_hangs_exits_without_waiting_for_it(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'hang.sqlite'}"
    open_database(db_url).dispose()  # the store exists (only db upgrade, demo, up create one)
    eutils_server.faults.add("hang", endpoint="esearch", seconds=60, times=100)
    daemon = spawn(write_config(tmp_path, extra="[eutils]\nread_timeout = 2.0\n"),
                   daemon_env(eutils_server, db_url), "--interval", "3600")
    until(lambda: eutils_server.requests, 30, "the first (hanging) request", daemon.log)
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()
    assert time.monotonic() - started < 10  # one read timeout, no further tries or waits
    db = open_database(db_url)
    assert [r.outcome for r in ledger(db)] == ["interrupted"]
    assert_released(db)


def test_a_batch_stuck_past_the_stop_timeout_is_abandoned_and_the_daemon_exits_0(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'stuck.sqlite'}"
    open_database(db_url).dispose()  # the store exists (only db upgrade, demo, up create one)
    eutils_server.faults.add("hang", endpoint="efetch", seconds=60, times=100)
    cfg = write_config(tmp_path, extra="[eutils]\nread_timeout = 50.0\n"
                       "[schedule]\nstop_timeout_seconds = 2.0\n")
    daemon = spawn(cfg, daemon_env(eutils_server, db_url), "--interval", "3600")
    until(lambda: eutils_server.requests_for("efetch"), 30, "a hanging efetch", daemon.log)
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()
    assert time.monotonic() - started < 10
    log = daemon.log()
    assert "level=ERROR" in log and "daemon_stop_deadline job=scan" in log
    db = open_database(db_url)
    assert [r.outcome for r in ledger(db)] == ["interrupted"] and record_count(db) == 0
    assert_released(db)
    info = daemon_status(db, tmp_path)
    assert info["state"] == "stopped" and info["last_run"]["outcome"] == "interrupted"


def test_a_three_day_outage_is_caught_up_in_one_run_from_the_watermark(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'outage.sqlite'}"
    today = pubmed_today()
    seed(tmp_path, eutils_server, db_url, until_day=today - dt.timedelta(days=4))
    db = open_database(db_url)
    query_sha = load_policy(tmp_path / "policies", "t0").query_sha256
    with db.read() as conn:
        assert runs.get_watermark(conn, query_sha) == today - dt.timedelta(days=4)
    # three days of new records appear upstream while PubMed is down for us
    source = eutils_server.corpus.get(eutils_server.corpus.pmids()[0])
    new = {str(95000000 + d): today - dt.timedelta(days=d) for d in (1, 2, 3)}
    for pmid, created in new.items():
        eutils_server.corpus.add(pmid, dated_copy(source, pmid, created), created)
    eutils_server.faults.add("status", status=503, times=100_000)
    daemon = spawn(write_config(tmp_path, extra="[eutils]\nmax_attempts = 2\n"),
                   daemon_env(eutils_server, db_url), "--interval", "2")

    until(lambda: daemon_status(db, tmp_path)["consecutive_failures"] >= 3, 60,
          "three failed runs", daemon.log)
    info = daemon_status(db, tmp_path)
    assert info["last_run"]["outcome"] == "failed" and "HTTP 503" in info["last_run"]["error"]
    assert info["recent_outcomes"][:3] == ["failed"] * 3
    errors = [line for line in daemon.log().splitlines()
              if "level=ERROR" in line and "daemon_repeated_failures" in line]
    assert errors and "consecutive=" in errors[0] and "HTTP 503" in errors[0]
    assert all(len(line) < 1000 for line in daemon.log().splitlines())

    eutils_server.faults.clear()
    until(lambda: succeeded(db)[1:], 30, "the catch-up scan", daemon.log)
    catch_up = succeeded(db)[1]
    assert catch_up.window_start <= today - dt.timedelta(days=3)  # from the watermark
    assert catch_up.window_end == today and catch_up.counts["new"] == 3
    with db.read() as conn:
        stored_by = dict(conn.execute(select(RecordVersion.pmid, RecordVersion.scan_run_id)
                                      .where(RecordVersion.pmid.in_(list(new)))).all())
        mark = runs.get_watermark(conn, query_sha)
    assert stored_by == dict.fromkeys(new, catch_up.id)  # all three in that one run
    assert mark == today - dt.timedelta(days=1)
    until(lambda: daemon_status(db, tmp_path)["consecutive_failures"] == 0, 10, "reset")
    assert daemon_status(db, tmp_path)["total_failures"] >= 3
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()
    if pubmed_today() != today:
        pytest.skip("PubMed's day changed during the test")


def test_an_overdue_sweep_runs_after_the_catch_up_scan_and_flags_a_retraction(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    db_url = f"sqlite:///{tmp_path / 'sweep.sqlite'}"
    seed(tmp_path, eutils_server, db_url)
    db = open_database(db_url)
    ids = sorted(eutils_server.corpus.pmids())
    retracted, gone = ids[3], ids[4]
    eutils_server.corpus.replace(retracted, with_publication_type(
        eutils_server.corpus.get(retracted) or b"", "Retracted Publication"))
    eutils_server.corpus.delete(gone)
    week_ago = runs.utcnow() - dt.timedelta(days=8)  # last checked before Sunday's sweep
    with db.write() as conn:
        conn.execute(update(Record).values(last_checked_at=week_ago))
    daemon = spawn(write_config(tmp_path), daemon_env(eutils_server, db_url),
                   "--interval", "3600")
    daemon.wait_log("daemon_recheck_overdue")
    until(lambda: succeeded(db, "recheck"), 60, "the sweep", daemon.log)
    sweep = succeeded(db, "recheck")[0]
    assert sweep.counts["checked"] == 354 and sweep.counts["changed"] == 1
    assert sweep.counts["retracted"] == 1 and sweep.counts["deleted"] == 1
    with db.read() as conn:
        row = conn.execute(select(Record.is_retracted, Record.version, Record.deleted_at)
                           .where(Record.pmid == retracted)).one()
        deleted_at = conn.execute(select(Record.deleted_at).where(
            Record.pmid == gone)).scalar_one()
        checked = conn.execute(select(func.min(Record.last_checked_at)).where(
            Record.deleted_at.is_(None))).scalar_one()
    assert row.is_retracted is True and row.version == 2 and row.deleted_at is None
    assert deleted_at is not None
    assert checked.replace(tzinfo=dt.UTC) > week_ago + dt.timedelta(days=7)
    # the daemon records the finished recheck in its state (a job scheduled after it may
    # already have become the last run); on a timeout the daemon's log says why
    until(lambda: [r for r in daemon_status(db, tmp_path)["recent"]
                   if r["job"] == "recheck" and r["outcome"] == "succeeded"], 30,
          "the recheck recorded in the daemon's state", daemon.log)
    assert "recheck_flagged pmid=" + retracted in daemon.log()
    data = status(db, load_policy(tmp_path / "policies", "t0"))
    assert data["last_recheck"]["outcome"] == "succeeded"
    assert data["records"]["retracted"] == 1
    daemon.send(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, daemon.log()


def test_schedule_settings_and_the_sqlite_check() -> None:
    with pytest.raises(ValueError, match="heartbeat_seconds must be below"):
        ScheduleSettings(heartbeat_seconds=5, lease_ttl_seconds=5)
    with pytest.raises(ValueError, match="cron"):
        ScheduleSettings(scan_cron="every day")
    assert sqlite_has_wal_race((3, 40, 1)) and sqlite_has_wal_race((3, 51, 2))
    assert not any(sqlite_has_wal_race(v) for v in ((3, 51, 3), (3, 50, 7), (3, 44, 6)))


def test_a_standby_has_the_whole_backfill_within_60_s_of_a_sigkill_at_3_requests_per_s(
        tmp_path: Path, eutils_server: Any, spawn: Spawn) -> None:
    """The issue's deployment check: a backfill from 2006 at NCBI's 3 requests/s, the
    active daemon killed mid-scan, the waiting standby stores all 354 records within 60 s
    (fixed 31-day windows asked esearch about 185 months first: over a minute alone)."""
    db_url = f"sqlite:///{tmp_path / 'standby.sqlite'}"
    env = daemon_env(eutils_server, db_url)
    assert env["SCANNER_SCAN_START"] == "2006-01-01"
    cfg = write_config(tmp_path, extra="[eutils]\nrequests_per_second = 3\nbatch_size = 10\n")
    eutils_server.delay_all = 1.0  # slow answers (~50 s in all) so the kill lands mid-scan
    first = spawn(cfg, env, "--interval", "3600")
    db = open_database(db_url)
    until(lambda: leases.holder(db, "daemon"), 60, "the first daemon's lease", first.log)
    standby = spawn(cfg, env, "--interval", "3600")
    standby.wait_log("daemon_standby")
    until(lambda: record_count(db) >= 10, 60, "the first stored batch", first.log)
    first.send(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    killed = time.monotonic()
    partial = record_count(db)
    assert 0 < partial < 354
    eutils_server.delay_all = 0
    until(lambda: record_count(db) == 354, 60, "all 354 records by the standby", standby.log)
    took = time.monotonic() - killed
    assert took < 60
    print(f"standby: {partial} stored at the kill, all 354 {took:.1f} s after it")
    assert versions(db) == dict.fromkeys(eutils_server.corpus.pmids(), 1)
    until(lambda: succeeded(db), 10, "the standby's scan", standby.log)
    assert [r.outcome for r in ledger(db)] == ["crashed", "succeeded"]
    assert succeeded(db)[0].owner.startswith(standby.owner_prefix)
    searches = [r for r in eutils_server.requests_for("esearch") if "mindate" in r.params]
    assert len(searches) == 2  # one window per daemon: 2006-01-01..today
    standby.send(signal.SIGTERM)
    assert standby.wait(timeout=30) == 0, standby.log()
