"""`scanner rerun`: stored raw XML re-classified under a pinned policy, reproducibly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from classifiers.pipeline import PaperClassifier
from classifiers.policy import load_policy
from scanner.cli import cli
from scanner.ingest.scan import paper_from_row
from scanner.policy.compare import SCORE_TOLERANCE, compare_results
from scanner.policy.rerun import rerun
from scanner.policy.stored import paper_from_raw
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.store import runs
from scanner.store.db import open_database
from scanner.store.models import Classification, Record, RecordVersion, ScanRun
from scanner.store.records import decompress, upsert_records
from tests.conftest import REPO, make_settings
from tests.review_helpers import build_demo

DEMO_XML = REPO / "data" / "demo" / "pubmed_demo.xml"


def invoke(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args],
                              env={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/",
                                   "SCANNER_DATABASE_URL": None})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo pipeline's store: records, classifications (made by the scan), drafts."""
    directory = tmp_path_factory.mktemp("rerun")
    url = build_demo(directory)
    return directory, url


def _results(url: str) -> dict[str, dict[str, Any]]:
    db = open_database(url)
    with db.read() as conn:
        rows = conn.execute(select(Classification.pmid, Classification.content_hash,
                                   Classification.result)
                            .where(Classification.policy_version == "v0.1")).all()
    db.dispose()
    return {r.pmid: {"hash": r.content_hash, "result": r.result} for r in rows}


def test_papers_from_stored_xml_match_the_record_columns(demo: tuple[Path, str]) -> None:
    db = open_database(demo[1])
    with db.read() as conn:
        rows = {r.pmid: r for r in conn.execute(select(Record.__table__))}
        versions = conn.execute(select(RecordVersion.pmid, RecordVersion.raw_xml_z)).all()
    assert versions
    for pmid, blob in versions:
        assert paper_from_raw(decompress(blob)) == paper_from_row(rows[pmid])


def test_rerun_on_a_fresh_database_reproduces_the_stored_results(
        demo: tuple[Path, str], db_url: str, tmp_path: Path) -> None:
    # The same records, ingested into a new database (SQLite or PostgreSQL), unclassified.
    fresh = open_database(db_url)
    records = [r for r in iter_pubmed_xml(DEMO_XML) if isinstance(r, ParsedRecord)]
    with fresh.write() as conn:
        upsert_records(conn, records, scan_run_id=None, now=runs.utcnow())
    policy = load_policy(REPO / "policies", "v0.1")
    report = rerun(fresh, policy, lambda: PaperClassifier(policy))
    assert report.stored_new == len(_results(demo[1])) > 0
    again = rerun(fresh, policy, lambda: pytest.fail("nothing left to classify"))
    assert again.stored_new == 0  # idempotent: no model even loaded
    original, reproduced = _results(demo[1]), _results(db_url)
    assert original.keys() == reproduced.keys()
    for pmid, stored in original.items():
        assert reproduced[pmid]["hash"] == stored["hash"]
        assert compare_results(stored["result"], reproduced[pmid]["result"]) == [], pmid
        # labels, routes and evidence are identical, not merely close
        for key in ("relevance", "pem", "study"):
            a, b = dict(stored["result"][key]), dict(reproduced[pmid]["result"][key])
            for volatile in ("score", "confidence"):
                assert abs(a.pop(volatile, 0) - b.pop(volatile, 0)) <= SCORE_TOLERANCE
            assert a == b
    # --verify on both stores: exit 0; the ledger records the libraries and threads
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    make_settings(cfg_dir, "http://127.0.0.1:9/", db_url=db_url)
    result = invoke(cfg_dir / "config.toml", "rerun", "--verify")
    assert result.exit_code == 0, result.output
    assert "0 differences" in result.output
    with fresh.read() as conn:
        ledger = conn.execute(select(ScanRun.kind, ScanRun.counts)
                              .where(ScanRun.kind == "rerun")
                              .order_by(ScanRun.id.desc())).first()
    assert ledger is not None
    assert ledger.counts["verify"] is True and ledger.counts["differences"] == 0
    assert ledger.counts["runtime"]["torch_threads"] == 1
    assert {"python", "numpy", "scikit-learn", "torch", "sentence-transformers"} <= set(
        ledger.counts["runtime"]["libraries"])
    fresh.dispose()
    assert invoke(demo[0] / "config.toml", "rerun", "--verify").exit_code == 0


def test_verify_lists_each_difference_and_exits_non_zero(demo: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    target = tmp_path / "tampered.sqlite"
    shutil.copyfile(Path(demo[1].removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    db = open_database(url)
    with db.write() as conn:
        rows = conn.execute(select(Classification.id, Classification.pmid,
                                   Classification.result).order_by(Classification.pmid)).all()
        changed, close = rows[0], rows[1]
        bad = {**changed.result, "pem": {**changed.result["pem"], "label": "unclear"},
               "relevance": {**changed.result["relevance"],
                             "score": changed.result["relevance"]["score"] - 0.01}}
        conn.execute(update(Classification).where(Classification.id == changed.id)
                     .values(result=bad))
        # within the stated precision: not a difference
        near = {**close.result, "relevance": {**close.result["relevance"],
                                              "score": close.result["relevance"]["score"]
                                              - 4e-7}}
        conn.execute(update(Classification).where(Classification.id == close.id)
                     .values(result=near))
    db.dispose()
    settings_dir = tmp_path / "cfg"
    settings_dir.mkdir()
    make_settings(settings_dir, "http://127.0.0.1:9/", db_url=url)
    result = invoke(settings_dir / "config.toml", "rerun", "--verify")
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if x.startswith(changed.pmid + "\t")]
    fields = sorted(x.split("\t")[1] for x in lines)
    expected = ["relevance.score"]
    if changed.result["pem"]["label"] != "unclear":
        expected.append("pem.label")
    assert fields == sorted(expected)
    assert f"{len(expected)} differences in 1 papers" in result.output
    assert not any(x.startswith(close.pmid + "\t") for x in result.output.splitlines())


def _policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    return target


def _config(tmp_path: Path, url: str, policy_dir: Path) -> Path:
    make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url,
                  extra=f'[policy]\ndir = "{policy_dir}"\n')
    return tmp_path / "config.toml"


def test_a_tampered_artifact_is_refused(demo: tuple[Path, str], tmp_path: Path) -> None:
    policies = _policy_copy(tmp_path)
    artifact = policies / "artifacts" / "v0.1" / "relevance.joblib"
    data = bytearray(artifact.read_bytes())
    data[-10] ^= 0xFF
    artifact.write_bytes(bytes(data))
    result = invoke(_config(tmp_path, demo[1], policies), "rerun", "--verify")
    assert result.exit_code == 2
    assert "relevance artifact relevance.joblib has sha256" in result.output
    assert "refusing to load it" in result.output


def test_an_edited_policy_file_is_refused(demo: tuple[Path, str], tmp_path: Path) -> None:
    policies = _policy_copy(tmp_path)
    path = policies / "v0.1.toml"
    path.write_text(path.read_text().replace("include_at = 0.5", "include_at = 0.6", 1))
    result = invoke(_config(tmp_path, demo[1], policies), "rerun")
    assert result.exit_code == 2
    assert "policy v0.1 changed after it was used" in result.output
