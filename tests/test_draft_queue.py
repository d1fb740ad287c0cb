"""From scan to queue on SQLite and PostgreSQL: drafts made once, refreshed without
losing a curator's text, and a retraction that arrives later re-queues an approved entry
while its published snapshot stays as approved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from classifiers.policy import load_policy
from scanner.drafts.pipeline import draft_pending
from scanner.ingest.scan import paper_from_row
from scanner.policy.classify import policy_classifier
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.store import drafts as store
from scanner.store.classifications import store_classifications, unclassified
from scanner.store.db import Database, open_database
from scanner.store.models import Draft, Record
from scanner.store.records import upsert_records
from scanner.store.runs import utcnow
from tests.conftest import REPO
from tests.review_helpers import build_demo

POLICY = load_policy(REPO / "policies", "v0.1")
DEMO = REPO / "data" / "demo" / "pubmed_demo.xml"
RETRACTION = (b'<CommentsCorrectionsList><CommentsCorrections RefType="RetractionIn">'
              b"<RefSource>Retraction in: Demo J. 2026</RefSource>"
              b'<PMID Version="1">99000999</PMID></CommentsCorrections>'
              b"</CommentsCorrectionsList>")


@pytest.fixture
def demo_db(db_url: str, tmp_path: Path) -> Iterator[Database]:
    build_demo(tmp_path, db_url)
    db = open_database(db_url)
    yield db
    db.dispose()


def reclassify(db: Database) -> int:
    """Classify what changed, as a scan does, then draft."""
    classifier = policy_classifier(POLICY)
    with db.read() as conn:
        pmids = unclassified(conn, POLICY, 1000)
        rows = conn.execute(select(Record.__table__).where(Record.pmid.in_(pmids))).all()
    results = classifier.classify([paper_from_row(r) for r in rows])
    with db.write() as conn:
        store_classifications(conn, results, {r.pmid: r.content_hash for r in rows}, utcnow())
    return draft_pending(db, POLICY)


def changed_record(tmp_path: Path, pmid: str, edit: bytes) -> ParsedRecord:
    original = next(r for r in iter_pubmed_xml(DEMO) if r.pmid == pmid)
    assert isinstance(original, ParsedRecord)
    raw = original.raw_xml.replace(b"</MedlineCitation>", edit + b"</MedlineCitation>", 1)
    path = tmp_path / f"{pmid}.xml"
    path.write_bytes(b"<PubmedArticleSet>" + raw + b"</PubmedArticleSet>")
    record = next(iter_pubmed_xml(path))
    assert isinstance(record, ParsedRecord)
    return record


@pytest.mark.postgres
def test_every_relevant_paper_is_drafted_once(demo_db: Database) -> None:
    with demo_db.read() as conn:
        drafts = [store.get(conn, pmid) for pmid in conn.execute(select(Draft.pmid)).scalars()]
        excluded = conn.execute(select(func.count()).select_from(Record)).scalar_one()
    assert len(drafts) >= 25 and excluded >= len(drafts)
    assert all(d.relevance_route != "auto_exclude" for d in drafts)
    assert all(set(d.fields) == set(store.EDITABLE) for d in drafts)
    assert all(d.generated["stamps"]["policy_version"] == "v0.1" for d in drafts)
    assert draft_pending(demo_db, POLICY) == 0          # nothing new: nothing redone


@pytest.mark.postgres
def test_a_later_retraction_requeues_an_approved_entry_and_keeps_its_publication(
        demo_db: Database, tmp_path: Path) -> None:
    with demo_db.read() as conn:
        pmid = conn.execute(select(Draft.pmid).where(
            Draft.retracted.is_(False), Draft.relevance_label == "mecfs",
            Draft.pem_label == "required").order_by(Draft.pmid).limit(1)).scalar_one()
        draft = store.get(conn, pmid)
    snapshot = {"pmid": pmid, "fields": dict(draft.fields), "stamps": {"policy": "v0.1"}}
    with demo_db.write() as conn:
        store.decide(conn, pmid, decision="approved", expected_version=draft.version,
                     actor="alice", snapshot=snapshot)
    record = changed_record(tmp_path, pmid, RETRACTION)
    assert record.is_retracted
    with demo_db.write() as conn:
        upsert_records(conn, [record], scan_run_id=None, now=utcnow())
    assert reclassify(demo_db) == 1
    with demo_db.read() as conn:
        after = store.get(conn, pmid)
        event = store.events(conn, pmid)[0]
    assert after.state == "pending" and after.retracted
    assert "retracted" in (after.requeue_reason or "")
    assert after.published == snapshot                  # still published as approved
    assert after.generated["retraction"] is not None
    assert event.action == "requeued" and event.actor == "scanner"
    with demo_db.read() as conn:
        queue, _ = store.queue(conn, store.QueueFilter(per_page=1))
    assert queue[0].pmid == pmid                        # re-queued entries come first


@pytest.mark.postgres
def test_regenerating_keeps_a_curators_text(demo_db: Database, tmp_path: Path) -> None:
    with demo_db.read() as conn:
        pmid = conn.execute(select(Draft.pmid).where(Draft.retracted.is_(False))
                            .order_by(Draft.pmid).limit(1)).scalar_one()
        draft = store.get(conn, pmid)
    with demo_db.write() as conn:
        store.save(conn, pmid, expected_version=draft.version,
                   fields={"summary": "Curator's own words."}, flags=[], actor="bob")
    record = changed_record(tmp_path, pmid, b"<CitationSubset>IM</CitationSubset>")
    with demo_db.write() as conn:
        upsert_records(conn, [record], scan_run_id=None, now=utcnow())
    assert reclassify(demo_db) == 1
    with demo_db.read() as conn:
        after = store.get(conn, pmid)
    assert after.fields["summary"] == "Curator's own words."
    assert after.content_hash == record_hash(demo_db, pmid) != draft.content_hash
    assert after.state == "pending" and after.version == draft.version + 2


def record_hash(db: Database, pmid: str) -> str:
    with db.read() as conn:
        return str(conn.execute(select(Record.content_hash)
                                .where(Record.pmid == pmid)).scalar_one())
