"""Scans against a real local E-utilities server: incremental, gap-free, failure-proof."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from classifiers.policy import load_policy
from scanner.errors import EutilsError, QueryError, ScanInProgressError, WindowTooLargeError
from scanner.ingest.scan import Scanner
from scanner.pubmed.eutils import EutilsClient
from scanner.pubmed.ratelimit import RateLimiter
from scanner.store import leases, runs
from scanner.store.db import open_database
from scanner.store.models import FetchBacklog, Record, RecordVersion, ScanRun
from tests.conftest import REPO, make_settings

TODAY = dt.date(2021, 6, 15)  # the near-miss file's create dates: 2006-10-05 .. 2021-06-08
SINCE = dt.date(2006, 1, 1)


def make_scanner(tmp_path: Path, server: Any, db_url: str | None = None, extra: str = "",
                 today: dt.date = TODAY) -> Scanner:
    settings = make_settings(tmp_path, server.base_url, db_url=db_url, extra=extra)
    db = open_database(settings.database_url)
    policy = load_policy(settings.policy_dir, settings.policy.active)
    client = EutilsClient(settings.eutils, limiter=RateLimiter(0), sleep=lambda _s: None)
    return Scanner(settings, db, policy, client, today=lambda: today, progress=False)


def stored(scanner: Scanner) -> dict[str, int]:
    """pmid -> number of stored versions."""
    with scanner.db.read() as conn:
        rows = conn.execute(select(RecordVersion.pmid, func.count())
                            .group_by(RecordVersion.pmid)).all()
    return {pmid: n for pmid, n in rows}


def live_pmids(scanner: Scanner) -> set[str]:
    with scanner.db.read() as conn:
        return set(conn.execute(select(Record.pmid).where(Record.deleted_at.is_(None)))
                   .scalars())


def test_full_scan_then_rescan_changes_nothing(tmp_path: Path, eutils_server: Any,
                                               db_url: str) -> None:
    scanner = make_scanner(tmp_path, eutils_server, db_url)
    corpus_ids = set(eutils_server.corpus.pmids())
    report = scanner.run(since=SINCE)
    assert report.outcome == "succeeded"
    assert report.counts.found == report.counts.new == len(corpus_ids) == 354
    assert set(stored(scanner)) == corpus_ids
    assert report.watermark == TODAY - dt.timedelta(days=1)

    with scanner.db.read() as conn:
        before = conn.execute(select(Record.__table__).order_by(Record.pmid)).all()
    again = scanner.run(since=SINCE)
    assert again.counts.new == again.counts.changed == 0
    assert again.counts.unchanged == 354
    assert stored(scanner) == dict.fromkeys(corpus_ids, 1)
    with scanner.db.read() as conn:
        after = conn.execute(select(Record.__table__).order_by(Record.pmid)).all()
        ledger = conn.execute(select(ScanRun.outcome, ScanRun.counts)
                              .order_by(ScanRun.id)).all()
    strip = [{k: v for k, v in r._mapping.items() if k != "last_checked_at"} for r in before]
    assert strip == [{k: v for k, v in r._mapping.items() if k != "last_checked_at"}
                     for r in after]
    assert [o for o, _ in ledger] == ["succeeded", "succeeded"]
    assert ledger[1][1]["unchanged"] == 354


def test_incremental_scan_starts_from_watermark_minus_overlap(tmp_path: Path,
                                                              eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server, extra="[scan]\noverlap_days = 3\n")
    scanner.run(since=SINCE, until=dt.date(2021, 5, 31))
    with scanner.db.read() as conn:
        assert runs.get_watermark(conn, scanner.policy.query_sha256) == dt.date(2021, 5, 31)
    eutils_server.clear_requests()
    report = scanner.run()
    assert (report.start, report.end) == (dt.date(2021, 5, 29), TODAY)
    search = eutils_server.requests_for("esearch")[0].params
    assert (search["mindate"], search["datetype"]) == ("2021/05/29", "crdt")
    assert set(stored(scanner)) == set(eutils_server.corpus.pmids())


def test_a_window_over_the_cap_is_split(tmp_path: Path, eutils_server: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scanner.ingest.scan.ESEARCH_CAP", 120)
    scanner = make_scanner(tmp_path, eutils_server)
    report = scanner.run(since=SINCE)
    assert report.counts.found == 354 and set(stored(scanner)) == set(
        eutils_server.corpus.pmids())
    searches = eutils_server.requests_for("esearch")
    assert len(searches) > 3
    windows = [(s.params["mindate"], s.params["maxdate"]) for s in searches
               if "mindate" in s.params]
    assert windows[0] == ("2006/01/01", "2021/06/15")


def test_the_whole_range_is_one_search_and_sparse_parts_are_merged(
        tmp_path: Path, eutils_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """354 records since 2006 (311 of them in 2021): one esearch without a cap to split
    for; with a cap of 200, count-only probes and as few searched windows as fit, which
    cover the range with no gap and no overlap."""
    scanner = make_scanner(tmp_path, eutils_server)
    report = scanner.run(since=SINCE)
    assert report.counts.new == 354 and report.counts.windows == 1
    assert [(r.params["mindate"], r.params["maxdate"])
            for r in eutils_server.requests_for("esearch")] == [("2006/01/01", "2021/06/15")]
    assert len(eutils_server.requests_for("efetch")) == 8  # 354 records, batches of 50

    monkeypatch.setattr("scanner.ingest.scan.ESEARCH_CAP", 200)
    eutils_server.clear_requests()
    (tmp_path / "b").mkdir()
    again = make_scanner(tmp_path / "b", eutils_server)
    report = again.run(since=SINCE)
    assert report.counts.new == 354 and set(stored(again)) == set(eutils_server.corpus.pmids())
    searches = [r.params for r in eutils_server.requests_for("esearch")]
    full = [(s["mindate"], s["maxdate"]) for s in searches[1:] if s["retmax"] != "0"]
    assert report.counts.windows == len(full) == 2  # 354 in 2 windows of at most 200
    probes = [s for s in searches if s["retmax"] == "0"]
    assert probes and all("usehistory" not in s for s in probes)
    days = [(dt.date.fromisoformat(a.replace("/", "-")), dt.date.fromisoformat(
        b.replace("/", "-"))) for a, b in full]
    assert days[0][0] == SINCE and days[-1][1] == TODAY
    assert all(b + dt.timedelta(days=1) == c for (_, b), (c, _) in itertools.pairwise(days))
    assert report.watermark == TODAY - dt.timedelta(days=1)


def test_partition_merges_what_fits() -> None:
    from scanner.pubmed.windows import Window, partition
    per_day = {dt.date(2000, 1, 1) + dt.timedelta(days=i): 0 for i in range(64)}
    for i in range(40, 64):
        per_day[dt.date(2000, 1, 1) + dt.timedelta(days=i)] = 5  # 120 records in the end
    asked: list[Window] = []

    def count_of(w: Window) -> int:
        asked.append(w)
        return sum(n for d, n in per_day.items() if w.start <= d <= w.end)

    whole = Window(dt.date(2000, 1, 1), dt.date(2000, 3, 4))
    parts = partition(whole, 120, count_of, 50)
    assert parts[0].start == whole.start and parts[-1].end == whole.end
    assert all(a.end + dt.timedelta(days=1) == b.start for a, b in itertools.pairwise(parts))
    assert all(count_of(p) <= 50 for p in parts)
    assert len(parts) == 3  # the 40 empty days joined the first dense part
    assert partition(Window(whole.start, whole.start), 99, count_of, 50) == [
        Window(whole.start, whole.start)]


def test_a_single_day_over_the_cap_fails_clearly(tmp_path: Path, eutils_server: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scanner.ingest.scan.ESEARCH_CAP", 5)
    scanner = make_scanner(tmp_path, eutils_server)
    with pytest.raises(WindowTooLargeError, match="alone holds"):
        scanner.run(since=SINCE)


def test_faults_during_a_scan_lose_nothing(tmp_path: Path, eutils_server: Any) -> None:
    # faults are consumed by consecutive requests, so one batch meets all eight
    scanner = make_scanner(tmp_path, eutils_server, extra="max_attempts = 10")
    for kind, opts in [("status", {"status": 429, "retry_after": 1}),
                       ("status", {"status": 502}), ("error_200", {}), ("html", {}),
                       ("truncated", {}), ("drop", {}), ("empty", {}), ("text", {})]:
        eutils_server.faults.add(kind, endpoint="efetch", **opts)
    eutils_server.faults.add("error_200", endpoint="esearch")
    report = scanner.run(since=SINCE)
    assert report.counts.new == 354 and report.counts.missing == 0
    faults = [r.fault for r in eutils_server.requests if r.fault]
    assert len(faults) == 9


def test_missing_records_are_asked_again_then_backlogged(tmp_path: Path,
                                                         eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server)
    ids = sorted(eutils_server.corpus.pmids())
    lost, flaky = ids[0], ids[1]
    # flaky is missing once (recovered by asking again); lost is missing from both asks
    eutils_server.faults.add("missing", endpoint="efetch", pmids=[lost, flaky], times=1)
    eutils_server.faults.add("missing", endpoint="efetch", pmids=[lost], times=100)
    report = scanner.run(since=SINCE)
    assert report.counts.missing == 1 and report.counts.new == 353
    assert flaky in live_pmids(scanner) and lost not in live_pmids(scanner)
    with scanner.db.read() as conn:
        assert conn.execute(select(FetchBacklog.pmid, FetchBacklog.state)).all() == [
            (lost, "pending")]
    # the watermark still moved: the backlog, not a re-scan, closes the gap
    assert report.watermark == TODAY - dt.timedelta(days=1)
    eutils_server.faults.clear()
    again = scanner.run()
    assert again.counts.backlog_recovered == 1
    assert lost in live_pmids(scanner)
    with scanner.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(FetchBacklog)).scalar() == 0


def test_a_record_that_never_comes_back_is_given_up(tmp_path: Path,
                                                    eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server, extra="[scan]\nmissing_max_attempts = 2\n")
    lost = sorted(eutils_server.corpus.pmids())[0]
    eutils_server.faults.add("missing", endpoint="efetch", pmids=[lost], times=1000)
    scanner.run(since=SINCE)
    scanner.run(since=SINCE)
    with scanner.db.read() as conn:
        assert conn.execute(select(FetchBacklog.state)).scalars().all() == ["gone"]


def test_expired_webenv_falls_back_to_ids(tmp_path: Path, eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server)
    original = scanner.client.efetch_history
    calls = []

    def expire_after_first(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            eutils_server.expire_webenvs()
        return original(*args)

    scanner.client.efetch_history = expire_after_first  # type: ignore[method-assign]
    report = scanner.run(since=SINCE)
    assert report.counts.new == 354
    assert any("id" in r.params for r in eutils_server.requests_for("efetch"))


def test_deleted_and_changed_records_upstream(tmp_path: Path, eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server)
    scanner.run(since=SINCE)
    ids = sorted(eutils_server.corpus.pmids())
    gone, edited = ids[5], ids[6]
    raw = eutils_server.corpus.get(edited)
    retracted = raw.replace(b"</PublicationTypeList>", b'<PublicationType UI="D016441">'
                            b"Retracted Publication</PublicationType></PublicationTypeList>")
    assert retracted != raw
    eutils_server.corpus.replace(edited, retracted)
    eutils_server.corpus.delete(gone)
    eutils_server.deleted_as_delete_citation = True
    report = scanner.run(since=SINCE)
    assert report.counts.changed == 1 and report.changed_pmids == [edited]
    assert report.counts.deleted == 1
    assert gone not in live_pmids(scanner)
    assert stored(scanner)[edited] == 2 and stored(scanner)[gone] == 1
    with scanner.db.read() as conn:
        assert conn.execute(select(Record.is_retracted).where(
            Record.pmid == edited)).scalar_one() is True


def test_phrase_not_found_refuses_the_scan(tmp_path: Path, eutils_server: Any) -> None:
    eutils_server.unmatched_phrases = {"post-viral fatigue syndrome"}
    scanner = make_scanner(tmp_path, eutils_server)
    with pytest.raises(QueryError):
        scanner.run(since=SINCE)
    assert stored(scanner) == {}
    with scanner.db.read() as conn:
        run = runs.last_run(conn)
        assert runs.get_watermark(conn, scanner.policy.query_sha256) is None
    assert run is not None and run.outcome == "failed" and "PhraseNotFound" in run.error


def test_an_outage_fails_cleanly_and_keeps_finished_windows(
        tmp_path: Path, eutils_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scanner.ingest.scan.ESEARCH_CAP", 150)  # 311 records: several windows
    scanner = make_scanner(tmp_path, eutils_server)
    since = dt.date(2021, 1, 1)
    assert scanner.plan(since, None, None) == (since, TODAY)
    # the first window succeeds; every search after its records are fetched is a 503
    original = scanner.client.esearch
    def outage_after_first(*a: Any, **k: Any) -> Any:
        if eutils_server.requests_for("efetch"):
            eutils_server.faults.add("status", status=503, times=100)
        return original(*a, **k)
    scanner.client.esearch = outage_after_first  # type: ignore[method-assign]
    with pytest.raises(EutilsError, match="failed after 4 attempts: HTTP 503"):
        scanner.run(since=since)
    with scanner.db.read() as conn:
        mark = runs.get_watermark(conn, scanner.policy.query_sha256)
        run = runs.last_run(conn)
    first = [r.params for r in eutils_server.requests_for("esearch")
             if r.params["retmax"] != "0" and r.fault is None][1]
    assert first["mindate"] == "2021/01/01"
    assert mark == dt.date.fromisoformat(first["maxdate"].replace("/", "-")) < TODAY
    assert run is not None and run.outcome == "failed"
    kept = stored(scanner)
    assert kept and all(n == 1 for n in kept.values())
    eutils_server.faults.clear()
    scanner.client.esearch = original  # type: ignore[method-assign]
    scanner.run()
    assert set(stored(scanner)) == {
        p for p in eutils_server.corpus.pmids()
        if eutils_server.corpus.record(p).create_date >= since}


def test_an_empty_answer_is_cross_checked(tmp_path: Path, shared_data: Path) -> None:
    from scanner.replay import Corpus, ReplayServer
    with ReplayServer(Corpus()) as empty:
        scanner = make_scanner(tmp_path, empty)
        with pytest.raises(EutilsError, match="nothing for the query at any date"):
            scanner.run(since=SINCE)
        with scanner.db.read() as conn:
            assert runs.get_watermark(conn, scanner.policy.query_sha256) is None


def test_a_window_after_the_watermark_does_not_move_it(tmp_path: Path,
                                                       eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server)
    scanner.run(since=SINCE, until=dt.date(2021, 5, 1))
    report = scanner.run(since=dt.date(2021, 6, 1), until=dt.date(2021, 6, 5))
    assert report.watermark == dt.date(2021, 5, 1)


def test_only_one_scan_at_a_time(tmp_path: Path, eutils_server: Any) -> None:
    scanner = make_scanner(tmp_path, eutils_server)
    other = leases.make_owner()
    assert leases.acquire(scanner.db, "scan", other, dt.timedelta(minutes=5))[0]
    with pytest.raises(ScanInProgressError, match="another scan is running"):
        scanner.run(since=SINCE)
    assert eutils_server.requests == []


# -- the command line, as a separate process -------------------------------------------------
def cli_env(tmp_path: Path, server: Any, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    env.update(SCANNER_EUTILS_URL=server.base_url, SCANNER_DATABASE_URL=db_url,
               SCANNER_SCAN_START="2006-01-01", PYTHONUNBUFFERED="1")
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f'[policy]\ndir = "{REPO / "policies"}"\n'
                   "[eutils]\nrequests_per_second = 0\nbackoff_base = 0.01\n"
                   "backoff_max = 0.05\nbatch_size = 20\nread_timeout = 5.0\n")
    env["SCANNER_TEST_CONFIG"] = str(cfg)
    # Only `scanner db upgrade` (or demo) creates a store; the CLI refuses a missing one.
    subprocess.run(scanner_cmd(env, "db", "upgrade"), env=env, check=True,
                   capture_output=True, timeout=120)
    return env


def scanner_cmd(env: dict[str, str], *args: str) -> list[str]:
    return [sys.executable, "-m", "scanner", "--config", env["SCANNER_TEST_CONFIG"], *args]


def test_cli_scan_and_status(tmp_path: Path, eutils_server: Any, db_url: str) -> None:
    import json
    env = cli_env(tmp_path, eutils_server, db_url)
    out = subprocess.run(scanner_cmd(env, "scan", "--until", "2021-06-10"), env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [
        "scan succeeded: 2006-01-01..2021-06-10: 354 found, 354 new, 0 changed, 0 unchanged, "
        "0 deleted, 0 missing, 354 classified, 42 drafted; watermark 2021-06-10"]
    st = subprocess.run(scanner_cmd(env, "status", "--json"), env=env, capture_output=True,
                        text=True, timeout=60)
    data = json.loads(st.stdout)
    assert data["records"]["total"] == 354
    # the shipped default policy (config.toml's [policy] active), v0.4
    assert data["watermark"] == "2021-06-10" and data["active_policy"] == "v0.4"
    assert data["last_scan"]["outcome"] == "succeeded"
    assert data["last_scan"]["start"].endswith("+00:00") and data["last_scan"]["end"]
    assert data["classifications"] == {"v0.4": 354}
    assert data["drafts"] == {"pending": 42}


def test_cli_failure_is_one_line_and_nonzero(tmp_path: Path, eutils_server: Any) -> None:
    env = cli_env(tmp_path, eutils_server, f"sqlite:///{tmp_path / 'f.sqlite'}")
    eutils_server.faults.add("status", status=503, times=1000)
    out = subprocess.run(scanner_cmd(env, "scan"), env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 4
    last = out.stderr.strip().splitlines()[-1]
    assert last == "scanner: error: esearch failed after 6 attempts: HTTP 503"


@pytest.mark.slow
def test_sigkill_mid_batch_then_rescan_has_no_gap_and_no_duplicate(
        tmp_path: Path, eutils_server: Any, db_url: str) -> None:
    env = cli_env(tmp_path, eutils_server, db_url)
    eutils_server.delay_all = 0.05  # slow answers so the kill lands mid-scan
    proc = subprocess.Popen(scanner_cmd(env, "scan", "--until", "2021-06-10"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = open_database(db_url)
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline:
        with db.read() as conn:
            count = conn.execute(select(func.count()).select_from(Record)).scalar_one()
        if count >= 60:
            break
        time.sleep(0.02)
    # kill between a request and its batch's commit
    n = len(eutils_server.requests)
    while len(eutils_server.requests) == n and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with db.read() as conn:
        partial = conn.execute(select(func.count()).select_from(Record)).scalar_one()
        assert 0 < partial < 354
        assert conn.execute(select(ScanRun.outcome)).scalars().all() == ["running"]
    eutils_server.delay_all = 0
    out = subprocess.run(scanner_cmd(env, "scan", "--until", "2021-06-10"), env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with db.read() as conn:
        versions = conn.execute(select(RecordVersion.pmid, func.count())
                                .group_by(RecordVersion.pmid)).all()
        outcomes = conn.execute(select(ScanRun.outcome).order_by(ScanRun.id)).scalars().all()
        mark = runs.get_watermark(conn, load_policy(REPO / "policies", "v0.1").query_sha256)
    assert {p for p, _ in versions} == set(eutils_server.corpus.pmids())
    assert all(n == 1 for _, n in versions)
    assert outcomes == ["crashed", "succeeded"]
    assert mark == dt.date(2021, 6, 10)


def test_demo_runs_offline_on_the_embedded_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    db = tmp_path / "demo.sqlite"
    out = subprocess.run([sys.executable, "-m", "scanner", "demo", "--no-serve", "--database",
                          f"sqlite:///{db}"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "scan succeeded: 2026-10-01..2026-10-29: 33 found, 33 new" in out.stdout
    assert "99000003  2026-10-02  mecfs" in out.stdout and "[RETRACTED]" in out.stdout
    assert "33 classified" in out.stdout and "drafts: 30 pending" in out.stdout
    with open_database(f"sqlite:///{db}").read() as conn:
        assert conn.execute(select(func.count()).select_from(Record)).scalar_one() == 33


@pytest.mark.slow
def test_the_real_cap_on_a_whole_update_file(tmp_path: Path, shared_data: Path) -> None:
    """20,783 records in one 400-day window: over 9,999, so it must be split for real."""
    from scanner.replay import Corpus, ReplayServer

    corpus = Corpus.from_files([shared_data / "pubmed_xml" / "pubmed21n1298.xml.gz"])
    with ReplayServer(corpus) as server:
        scanner = make_scanner(tmp_path, server,
                               extra="batch_size = 500\n")
        report = scanner.run(since=dt.date(1993, 1, 1))
        searches = [r.params for r in server.requests_for("esearch") if "mindate" in r.params]
    assert report.counts.found == report.counts.new == len(corpus) == 20783
    assert max(int(s["retmax"]) for s in searches) == 9999
    big = [s for s in searches if s["mindate"] <= "2021/06/01" <= s["maxdate"]]
    assert len(big) >= 3  # the window holding 2021's records was halved at least twice
    with scanner.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(RecordVersion)).scalar() == 20783
