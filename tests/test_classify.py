"""``scanner classify`` against the contract, and the policy's pins enforced."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from classifiers.policy import load_policy
from scanner.config import load_settings
from scanner.errors import PolicyError
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "pubmed_demo.xml"
SCHEMA = REPO.parent / "shared" / "contracts" / "classification.schema.json"


def run_classify(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_output() -> list[dict]:
    out = run_classify("classify", "--input", str(DEMO))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_every_line_follows_the_schema(demo_output: list[dict], shared_data: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert len(demo_output) == 33
    for line in demo_output:
        jsonschema.validate(line, schema)
    policy = load_policy(REPO / "policies", "v0.4")      # the shipped default policy
    assert {json.dumps(d["policy"], sort_keys=True) for d in demo_output} == {
        json.dumps(policy.stamp, sort_keys=True)}


def test_evidence_spans_are_exact_and_claims_have_evidence(demo_output: list[dict]) -> None:
    records = {r.pmid: r for r in iter_pubmed_xml(DEMO) if isinstance(r, ParsedRecord)}
    for d in demo_output:
        rec = records[d["pmid"]]
        texts = {"title": rec.title, "abstract": rec.abstract}
        if d["pem"]["label"] in ("required", "not_required", "mixed"):
            assert any(x["role"] in ("inclusion", "subgroup") for x in d["pem"]["definitions"])
        for use in d["pem"]["definitions"]:
            ev = use["evidence"]
            assert texts[ev["source"]][ev["start"]:ev["end"]] == ev["text"]


def test_demo_labels(demo_output: list[dict]) -> None:
    labels = {r["pmid"]: r for r in csv.DictReader((REPO / "data/demo/labels.csv").open())}
    got = {d["pmid"]: d for d in demo_output}
    pem_right = sum(got[p]["pem"]["label"] == lab["pem"] for p, lab in labels.items())
    assert pem_right == len(labels), [
        (p, lab["pem"], got[p]["pem"]["label"]) for p, lab in labels.items()
        if got[p]["pem"]["label"] != lab["pem"]]
    for pmid, lab in labels.items():
        if lab["relevance"] == "mecfs":
            assert got[pmid]["relevance"]["route"] != "auto_exclude", pmid
    # v0.4's design model misses one demo design (99000010, an RCT read as observational;
    # the rules of v0.1 get all 33): a known error, reported in issue 17
    wrong = [p for p, lab in labels.items() if got[p]["study"]["design"] != lab["design"]]
    assert len(wrong) <= 1, wrong
    assert got["99000003"]["retracted"] is True


def test_classify_is_deterministic_and_writes_output(tmp_path: Path,
                                                     demo_output: list[dict]) -> None:
    out = tmp_path / "out.jsonl"
    result = run_classify("classify", "--input", str(DEMO), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert [json.loads(x) for x in out.read_text().splitlines()] == demo_output
    assert not (tmp_path / "out.jsonl.part").exists()


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path) -> None:
    missing = run_classify("classify", "--input", str(tmp_path / "nope.xml"))
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1].startswith("scanner: error: input not found")
    broken = tmp_path / "broken.xml"
    broken.write_bytes(DEMO.read_bytes()[:5000])
    out = run_classify("classify", "--input", str(broken))
    assert out.returncode == 5
    assert "truncated" in out.stderr.strip().splitlines()[-1]


def copy_policies(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    (tmp_path / "config.toml").write_text('[policy]\ndir = "policies"\nactive = "v0.1"\n')
    return tmp_path


def test_a_tampered_artifact_is_refused(tmp_path: Path) -> None:
    root = copy_policies(tmp_path)
    policy = load_policy(root / "policies", "v0.1")
    assert policy.relevance.artifact is not None
    artifact = root / "policies" / policy.relevance.artifact.path
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    out = run_classify("classify", "--input", str(DEMO), cwd=root)
    assert out.returncode == 2
    assert "refusing to load it" in out.stderr


def test_a_policy_edited_after_use_is_refused(tmp_path: Path, db_url: str) -> None:
    from scanner.store.classifications import check_policy_unchanged
    from scanner.store.db import open_database
    from scanner.store.runs import start_run

    root = copy_policies(tmp_path)
    settings = load_settings(root / "config.toml", environ={})
    policy = load_policy(settings.policy_dir, "v0.1")
    db = open_database(db_url)
    with db.write() as conn:
        start_run(conn, policy=policy, owner="test")
    path = settings.policy_dir / "v0.1.toml"
    path.write_text(path.read_text().replace("first version", "first version, edited"))
    edited = load_policy(settings.policy_dir, "v0.1")
    assert edited.sha256 != policy.sha256
    with db.read() as conn, pytest.raises(PolicyError, match="changed after it was used"):
        check_policy_unchanged(conn, edited)
