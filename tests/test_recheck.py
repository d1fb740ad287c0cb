"""The recheck against a real local E-utilities server: versions, flags, curator tasks."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from classifiers.policy import load_policy
from scanner.errors import ScanInProgressError
from scanner.ingest.recheck import Rechecker
from scanner.ingest.scan import Scanner
from scanner.policy.classify import policy_classifier
from scanner.pubmed.eutils import EutilsClient
from scanner.pubmed.ratelimit import RateLimiter
from scanner.store import drafts, leases, runs
from scanner.store.db import Database, open_database
from scanner.store.models import Classification, Draft, Record, RecordVersion
from tests.conftest import make_settings
from tests.daemon_support import (
    SCANNER,
    daemon_env,
    with_notice,
    with_publication_type,
    write_config,
)

TODAY = dt.date(2021, 6, 15)  # the near-miss file's create dates end on 2021-06-08
SINCE = dt.date(2006, 1, 1)


def scanned(tmp_path: Path, server: Any, db_url: str | None = None,
            classify: bool = False) -> tuple[Rechecker, Database]:
    """A store holding the whole corpus, and a sweep over it (classifying if asked)."""
    settings = make_settings(tmp_path, server.base_url, db_url=db_url)
    db = open_database(settings.database_url)
    policy = load_policy(settings.policy_dir, settings.policy.active)
    client = EutilsClient(settings.eutils, limiter=RateLimiter(0), sleep=lambda _s: None)
    classifier = policy_classifier(policy) if classify else None
    Scanner(settings, db, policy, client, today=lambda: TODAY, progress=False,
            classifier=classifier).run(since=SINCE)
    server.clear_requests()
    return Rechecker(settings, db, policy, client, classifier=classifier), db


def requeue_events(db: Database, pmid: str) -> list[str]:
    with db.read() as conn:
        return [e.detail["reason"] for e in drafts.events(conn, pmid)
                if e.actor == "recheck" and e.action == "requeued"]


@pytest.mark.slow
def test_the_sweep_versions_reclassifies_and_turns_notices_into_curator_tasks(
        tmp_path: Path, eutils_server: Any) -> None:
    rechecker, db = scanned(tmp_path, eutils_server, classify=True)
    corpus = eutils_server.corpus
    with db.read() as conn:
        drafted = list(conn.execute(select(Draft.pmid).order_by(Draft.pmid)).scalars())
    undrafted = sorted(set(corpus.pmids()) - set(drafted))
    assert len(drafted) >= 4 and undrafted
    retracted, errata, gone, edited = drafted[:4]
    concern = undrafted[0]
    with db.write() as conn:  # a curator approved one entry before its erratum appeared
        draft = drafts.get(conn, errata)
        drafts.decide(conn, errata, decision="approved", expected_version=draft.version,
                      actor="curator", snapshot={"summary": "as approved"})
    with db.read() as conn:
        old_hash = dict(conn.execute(select(Record.pmid, Record.content_hash)).all())

    def change(pmid: str, edit: Any) -> None:
        corpus.replace(pmid, edit(corpus.get(pmid)))

    change(retracted, lambda x: with_notice(with_publication_type(
        x, "Retracted Publication"), "RetractionIn", "96000001"))
    change(errata, lambda x: with_notice(x, "ErratumIn", "96000002"))
    change(concern, lambda x: with_notice(x, "ExpressionOfConcernIn", "96000003"))
    change(edited, lambda x: x.replace(b"</ArticleTitle>", b" (revised)</ArticleTitle>", 1))
    corpus.delete(gone)

    report = rechecker.run()
    c = report.counts
    assert report.outcome == "succeeded" and c.checked == 354
    assert sorted(report.changed_pmids) == sorted([retracted, errata, concern, edited])
    assert (c.changed, c.unchanged, c.deleted) == (4, 349, 1)
    assert (c.retracted, c.erratum, c.concern, c.requeued) == (1, 1, 1, 3)
    assert c.classified == 4  # the changed records, under the active policy
    assert set(report.flagged) == {retracted, errata, concern, gone}

    assert "retracted upstream (notice PMID 96000001)" in requeue_events(db, retracted)[0]
    assert "erratum published (PMID 96000002)" in requeue_events(db, errata)[0]
    assert "deleted from PubMed" in requeue_events(db, gone)[0]
    assert requeue_events(db, edited) == []
    with db.read() as conn:
        approved = drafts.get(conn, errata)
        assert approved.state == "pending" and approved.requeue_reason
        assert approved.published == {"summary": "as approved"}  # kept until decided again
        assert drafts.get(conn, retracted).state == "pending"
        assert conn.execute(select(Record.is_retracted).where(
            Record.pmid == retracted)).scalar_one() is True
        assert conn.execute(select(Record.deleted_at).where(
            Record.pmid == gone)).scalar_one() is not None
        for pmid in (retracted, errata, concern, edited):
            record = conn.execute(select(Record.content_hash, Record.version).where(
                Record.pmid == pmid)).one()
            assert record.content_hash != old_hash[pmid] and record.version == 2
            assert conn.execute(select(Classification.id).where(
                Classification.pmid == pmid, Classification.content_hash ==
                record.content_hash, Classification.policy_version == "v0.1")).first()
            assert conn.execute(select(RecordVersion.scan_run_id).where(
                RecordVersion.pmid == pmid, RecordVersion.version == 2)).scalar_one() \
                == report.run_id
        run = runs.last_run(conn, "recheck")
    assert run is not None and run.outcome == "succeeded" and run.counts["requeued"] == 3
    assert leases.holder(db, "scan") is None

    again = rechecker.run()  # nothing new upstream: nothing flagged twice
    assert (again.counts.checked, again.counts.changed, again.counts.requeued) == (353, 0, 0)
    assert len(requeue_events(db, retracted)) == 1


def test_oldest_checked_first_and_a_record_missing_once_is_asked_again(
        tmp_path: Path, eutils_server: Any, db_url: str) -> None:
    rechecker, db = scanned(tmp_path, eutils_server, db_url)
    ids = sorted(eutils_server.corpus.pmids())
    stale = ids[10:15]
    now = runs.utcnow()
    with db.write() as conn:
        for age, pmid in enumerate(stale, start=1):
            conn.execute(update(Record).where(Record.pmid == pmid).values(
                last_checked_at=now - dt.timedelta(days=30 + age)))
    flaky, gone = stale[0], stale[1]
    eutils_server.faults.add("missing", endpoint="efetch", pmids=[flaky], times=1)
    eutils_server.corpus.delete(gone)  # efetch now leaves it out without a word

    report = rechecker.run(limit=5)
    asked = [r.params["id"].split(",") for r in eutils_server.requests_for("efetch")]
    assert sorted(asked[0]) == sorted(stale)  # the five oldest-checked, one batch
    assert [sorted(a) for a in asked[1:]] == [sorted([flaky, gone])]  # asked once more
    assert (report.counts.checked, report.counts.deleted) == (5, 1)
    assert report.flagged == {gone: ["deleted from PubMed: check whether the entry should "
                                     "stand"]}
    with db.read() as conn:
        rows = dict(conn.execute(select(Record.pmid, Record.deleted_at).where(
            Record.pmid.in_(stale))).all())
        checked = dict(conn.execute(select(Record.pmid, Record.last_checked_at)).all())
    assert rows[gone] is not None and rows[flaky] is None
    fresh = {p for p, t in checked.items() if (t if t.tzinfo else t.replace(tzinfo=dt.UTC))
             >= now - dt.timedelta(days=1)}
    assert set(stale) - {gone} <= fresh


def test_the_sweep_waits_for_no_scan(tmp_path: Path, eutils_server: Any) -> None:
    rechecker, db = scanned(tmp_path, eutils_server)
    assert leases.acquire(db, "scan", leases.make_owner(), dt.timedelta(minutes=5))[0]
    with pytest.raises(ScanInProgressError, match="a scan or recheck is running"):
        rechecker.run()
    assert eutils_server.requests == []


def test_cli_recheck_prints_one_line(tmp_path: Path, eutils_server: Any) -> None:
    env = daemon_env(eutils_server, f"sqlite:///{tmp_path / 'cli.sqlite'}")
    cfg = write_config(tmp_path)
    subprocess.run([str(SCANNER), "--config", str(cfg), "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=120)  # only db upgrade creates a store
    scan = subprocess.run([str(SCANNER), "--config", str(cfg), "scan"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert scan.returncode == 0, scan.stderr
    out = subprocess.run([str(SCANNER), "--config", str(cfg), "recheck", "--limit", "3"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [
        "recheck succeeded: 3 checked, 0 changed, 3 unchanged, 0 deleted, 0 retracted, "
        "0 expressions of concern, 0 errata, 0 re-queued, 0 classified"]
