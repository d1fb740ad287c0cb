"""The store on SQLite and PostgreSQL: schema versions, record versions, watermark, leases."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from classifiers.policy import load_policy
from scanner.errors import SchemaVersionError, StoreError
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.store import leases, runs
from scanner.store.db import Database, head_revision, open_database
from scanner.store.journal import choose_journal
from scanner.store.models import Record
from scanner.store.records import count_records, mark_deleted, record_versions, upsert_records

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def sample_records(shared_data: Path, n: int = 12) -> list[ParsedRecord]:
    out: list[ParsedRecord] = []
    for path in sorted((shared_data / "eutils_fixtures" / "metapub_pmid_xml").glob("*.xml")):
        out += [r for r in iter_pubmed_xml(path) if isinstance(r, ParsedRecord)]
        if len(out) >= n:
            break
    return out[:n]


def changed(rec: ParsedRecord, marker: str) -> ParsedRecord:
    raw = rec.raw_xml.replace(b"</PubmedArticle>", f"<!-- {marker} --></PubmedArticle>".encode())
    assert raw != rec.raw_xml
    return ParsedRecord.from_dict({**rec.to_dict(), "title": rec.title + " " + marker}, raw)


def test_fresh_database_is_created_at_head(db_url: str) -> None:
    db = open_database(db_url)
    assert db.current_revision() == head_revision()
    # opening again is a no-op
    assert open_database(db_url).current_revision() == head_revision()


def test_unknown_schema_version_is_refused(db_url: str) -> None:
    db = open_database(db_url)
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaVersionError, match=r"9999.*unknown"):
        open_database(db_url)


def test_unstamped_scanner_tables_are_refused(db_url: str) -> None:
    db = open_database(db_url)
    with db.write() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaVersionError, match="no schema version"):
        open_database(db_url)


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="invalid database URL"):
        open_database("not a url")


def test_upsert_versions_and_idempotence(db_url: str, shared_data: Path) -> None:
    db = open_database(db_url)
    recs = sample_records(shared_data)
    with db.write() as conn:
        first = upsert_records(conn, recs, scan_run_id=None, now=NOW)
    assert sorted(first.new) == sorted(r.pmid for r in recs)
    with db.write() as conn:
        again = upsert_records(conn, recs, scan_run_id=None, now=NOW)
    assert again.new == [] and again.changed == []
    assert sorted(again.unchanged) == sorted(r.pmid for r in recs)

    edited = changed(recs[0], "erratum linked")
    with db.write() as conn:
        third = upsert_records(conn, [edited], scan_run_id=None, now=NOW)
    assert third.changed == [recs[0].pmid]
    with db.read() as conn:
        versions = record_versions(conn, recs[0].pmid)
        row = conn.execute(select(Record.__table__).where(Record.pmid == recs[0].pmid)).one()
        assert count_records(conn) == len(recs)
    assert [v for v, _, _ in versions] == [1, 2]
    assert versions[0][2] == recs[0].raw_xml and versions[1][2] == edited.raw_xml
    assert row.version == 2 and row.title.endswith("erratum linked")
    assert row.mesh == edited.to_dict()["mesh"]
    assert row.create_date == recs[0].create_date


def test_delete_citation_keeps_versions_and_can_be_restored(db_url: str,
                                                            shared_data: Path) -> None:
    db = open_database(db_url)
    recs = sample_records(shared_data, 3)
    with db.write() as conn:
        upsert_records(conn, recs, scan_run_id=None, now=NOW)
        assert mark_deleted(conn, [recs[0].pmid, "1"], now=NOW) == [recs[0].pmid]
        assert mark_deleted(conn, [recs[0].pmid], now=NOW) == []
    with db.read() as conn:
        assert count_records(conn) == 2
        assert count_records(conn, include_deleted=True) == 3
        assert len(record_versions(conn, recs[0].pmid)) == 1
    with db.write() as conn:
        assert upsert_records(conn, [recs[0]], scan_run_id=None, now=NOW).restored == [
            recs[0].pmid]
    with db.read() as conn:
        assert count_records(conn) == 3


def test_failed_transaction_stores_nothing(db_url: str, shared_data: Path) -> None:
    db = open_database(db_url)
    recs = sample_records(shared_data, 4)
    policy = load_policy(REPO / "policies", "v0.1")
    with pytest.raises(RuntimeError), db.write() as conn:
        upsert_records(conn, recs, scan_run_id=None, now=NOW)
        runs.advance_watermark(conn, policy.query_sha256, dt.date(2026, 1, 1), None)
        raise RuntimeError("crash between the records and the commit")
    with db.read() as conn:
        assert count_records(conn) == 0
        assert runs.get_watermark(conn, policy.query_sha256) is None


def test_watermark_never_moves_backwards(db_url: str) -> None:
    db = open_database(db_url)
    with db.write() as conn:
        assert runs.advance_watermark(conn, "q", dt.date(2026, 3, 1), None) == dt.date(2026, 3, 1)
        assert runs.advance_watermark(conn, "q", dt.date(2026, 2, 1), None) == dt.date(2026, 3, 1)
        assert runs.advance_watermark(conn, "q2", dt.date(2020, 1, 1), None) == dt.date(2020, 1, 1)
    with db.read() as conn:
        assert runs.get_watermark(conn, "q") == dt.date(2026, 3, 1)


def test_lease_is_exclusive_and_expires(db_url: str) -> None:
    db = open_database(db_url)
    ttl = dt.timedelta(seconds=60)
    a, b = leases.make_owner(), leases.make_owner()
    assert leases.acquire(db, "scan", a, ttl) == (True, None)
    assert leases.acquire(db, "scan", b, ttl) == (False, None)
    assert leases.renew(db, "scan", a, ttl)
    assert not leases.renew(db, "scan", b, ttl)
    leases.release(db, "scan", a)
    assert leases.acquire(db, "scan", b, dt.timedelta(seconds=-1)) == (True, None)
    # b's lease has expired: a takes it over and learns whose it was
    assert leases.acquire(db, "scan", a, ttl) == (True, b)
    held = leases.holder(db, "scan")
    assert held is not None and held.owner == a


def test_lease_of_a_dead_process_is_taken_over_at_once(db_url: str) -> None:
    db = open_database(db_url)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = leases.make_owner().rsplit(":", 2)
    dead_owner = f"{dead[0]}:{proc.stdout.strip()}:deadbeef"
    assert leases.acquire(db, "scan", dead_owner, dt.timedelta(hours=1))[0]
    me = leases.make_owner()
    assert leases.acquire(db, "scan", me, dt.timedelta(hours=1)) == (True, dead_owner)


def test_sqlite_concurrent_writers_do_not_fail(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: read-then-write transactions from two threads serialise cleanly."""
    db = open_database(f"sqlite:///{tmp_path / 'c.sqlite'}")
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(30):
                with db.write() as conn:
                    current = runs.get_watermark(conn, name)
                    day = dt.date(2020, 1, 1) + dt.timedelta(days=i)
                    assert current is None or current < day
                    runs.advance_watermark(conn, name, day, None)
                    runs.advance_watermark(conn, "shared", day, None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as conn:
        assert runs.get_watermark(conn, "shared") == dt.date(2020, 1, 30)
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == choose_journal().journal_mode == db.engine_info()["journal_mode"]


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'i.sqlite'}")
    db.ensure_schema()
    statements: list[str] = []
    from sqlalchemy import event

    @event.listens_for(db.engine, "before_cursor_execute")
    def capture(_c, _cur, statement, *_a):  # type: ignore[no-untyped-def]
        statements.append(statement)

    with db.write() as conn:
        conn.execute(text("SELECT 1"))
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
    assert statements[0] == "BEGIN IMMEDIATE"
    assert "BEGIN DEFERRED" in statements


def test_an_older_schema_is_upgraded_step_by_step_keeping_data(db_url: str,
                                                               shared_data: Path) -> None:
    from alembic import command

    from scanner.store.db import _alembic_config

    db = Database(db_url)
    with db.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    assert db.current_revision() == "0001"
    with pytest.raises(SchemaVersionError, match="scanner db upgrade"):
        db.ensure_schema(migrate=False)
    recs = sample_records(shared_data, 3)
    with db.write() as conn:
        upsert_records(conn, recs, scan_run_id=None, now=NOW)
    upgraded = open_database(db_url)
    assert upgraded.current_revision() == head_revision() != "0001"
    with upgraded.read() as conn:
        assert count_records(conn) == 3
        assert conn.execute(text("SELECT count(*) FROM classifications")).scalar() == 0


@pytest.mark.postgres
def test_the_run_ledger_frame_has_one_rule_for_every_run(db_url: str) -> None:
    """scan, recheck and rerun share ``runs.ledger``: success closes the row ``succeeded``;
    Ctrl-C or a cooperative stop is ``interrupted``; anything else ``failed``, with the
    message and the counts as they stood; ``record=False`` writes nothing."""
    from scanner.errors import RunStopped
    from scanner.store.models import ScanRun

    db = open_database(db_url)
    policy = load_policy(REPO / "policies", "v0.1")

    class Report:
        run_id: int | None = None
        outcome = "running"

    counts = {"n": 0}
    report = Report()
    with runs.ledger(db, policy=policy, owner="t", kind="rerun", counts=lambda: dict(counts),
                     report=report) as run:
        counts["n"] = 3
    assert report.outcome == run.outcome == "succeeded" and report.run_id == run.run_id > 0
    for exc, outcome in ((KeyboardInterrupt(), "interrupted"),
                         (RunStopped("stop requested"), "interrupted"),
                         (ValueError("boom"), "failed")):
        seen = Report()
        with pytest.raises(type(exc)), runs.ledger(db, policy=policy, owner="t", kind="scan",
                                                    counts=lambda: dict(counts), report=seen):
            raise exc
        assert seen.outcome == outcome
    with runs.ledger(db, policy=policy, owner="t", kind="rerun", counts=dict,
                     record=False) as run:
        assert run.run_id == 0
    with db.read() as conn:
        rows = conn.execute(select(ScanRun.kind, ScanRun.outcome, ScanRun.error,
                                   ScanRun.counts).order_by(ScanRun.id)).all()
    assert [(r.kind, r.outcome) for r in rows] == [
        ("rerun", "succeeded"), ("scan", "interrupted"), ("scan", "interrupted"),
        ("scan", "failed")]
    assert rows[2].error == "stop requested" and rows[3].error == "boom"
    assert all(r.counts == {"n": 3} for r in rows)
    db.dispose()
