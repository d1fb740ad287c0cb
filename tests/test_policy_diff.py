"""`scanner diff`, `scanner policy activate|list` and stale approvals."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from classifiers.pipeline import PaperClassifier
from classifiers.policy import load_policy
from scanner.cli import cli
from scanner.config import load_settings
from scanner.policy.activate import activate_policy
from scanner.policy.diff import diff_policies
from scanner.review.service import Review
from scanner.store import drafts as draft_store
from scanner.store import policies as policy_store
from scanner.store.db import open_database
from scanner.store.models import Classification, Draft
from tests.conftest import REPO, make_settings
from tests.review_helpers import build_demo

#: The test policy raises only the auto-include threshold, and stays below the cascade's
#: embedding band (0.98) so that the same papers are embedded under both policies.
NEW_INCLUDE_AT = 0.975


def invoke(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args],
                              env={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/",
                                   "SCANNER_DATABASE_URL": None})


def _derived(policies: Path, version: str, edit: dict[str, str]) -> None:
    text = (policies / "v0.1.toml").read_text()
    text = text.replace('version = "v0.1"', f'version = "{version}"', 1)
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    (policies / f"{version}.toml").write_text(text)


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> tuple[Path, str, Path]:
    """The demo store (SQLite or PostgreSQL), a policies copy with two derived versions."""
    url = build_demo(tmp_path, db_url)
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    _derived(policies, "v0.1-test", {"include_at = 0.5\nexclude_below = 0.01\nchosen_by":
                                     f"include_at = {NEW_INCLUDE_AT}\nexclude_below = 0.01\n"
                                     "chosen_by"})
    _derived(policies, "v0.2-test", {'pem = "required"': 'pem = "optional"'})
    make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url,
                  extra=f'[policy]\ndir = "{policies}"\n')
    return tmp_path / "config.toml", url, policies


def test_a_one_threshold_diff_lists_exactly_the_papers_between_the_thresholds(
        store: tuple[Path, str, Path]) -> None:
    cfg, url, policies = store
    old, new = load_policy(policies, "v0.1"), load_policy(policies, "v0.1-test")
    assert old.relevance.point().include_at == 0.5
    db = open_database(url)
    with db.read() as conn:
        scores = dict(conn.execute(select(Classification.pmid, Classification.relevance_score)
                                   .where(Classification.policy_version == "v0.1")).all())
    expected = {p for p, s in scores.items() if 0.5 <= s < NEW_INCLUDE_AT}
    assert expected, "the demo should have papers between the two thresholds"
    diff = diff_policies(db, old, new, lambda: PaperClassifier(old),
                         lambda: PaperClassifier(new))
    assert {c.pmid for c in diff.changes} == expected
    assert all(c.kinds == ["route"] and c.old["route"] == "auto_include"
               and c.new["route"] == "review" for c in diff.changes)
    assert diff.counts == {"papers": len(expected), "relevance": 0, "route": len(expected),
                           "pem": 0, "pem_route": 0, "evidence": 0, "design": 0}
    assert diff.computed == {"v0.1": 0, "v0.1-test": len(scores)}
    with db.read() as conn:  # shadow mode: nothing stored for the draft policy
        assert conn.execute(select(func.count()).select_from(Classification).where(
            Classification.policy_version == "v0.1-test")).scalar_one() == 0
    db.dispose()

    # the same through the CLI, as JSON, CSV and a table (evaluation on the demo labels)
    result = invoke(cfg, "diff", "v0.1", "v0.1-test", "--format", "json",
                    "--labels", str(REPO / "data" / "demo" / "labels.csv"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {c["pmid"] for c in data["changes"]} == expected
    assert data["counts"]["route"] == len(expected)
    figures = data["evaluation"][str(REPO / "data" / "demo" / "labels.csv")]
    assert set(figures) == {"v0.1", "v0.1-test"}
    assert figures["v0.1"]["relevance"]["routing"]["auto_include"] >= figures["v0.1-test"][
        "relevance"]["routing"]["auto_include"]
    result = invoke(cfg, "diff", "v0.1", "v0.1-test", "--format", "csv", "--no-eval")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["pmid"] for r in rows} == expected
    assert {r["changes"] for r in rows} == {"route"}
    result = invoke(cfg, "diff", "v0.1", "v0.1-test", "--no-eval")
    assert f"{len(expected)} would change" in result.stdout
    assert "relevance route auto_include → review" in result.stdout


def test_activation_requeues_stale_approvals_and_keeps_their_published_text(
        store: tuple[Path, str, Path]) -> None:
    cfg, url, policies = store
    settings_policy = load_policy(policies, "v0.1")
    db = open_database(url)
    with db.read() as conn:
        drafts = set(conn.execute(select(Draft.pmid)).scalars())
        rows = conn.execute(select(Classification.pmid, Classification.pem_label)
                            .where(Classification.policy_version == "v0.1")).all()
    required = sorted(p for p, label in rows if label == "required" and p in drafts)
    other = sorted(p for p, label in rows if label == "not_applicable" and p in drafts)
    assert required and other
    review = Review(load_settings(cfg, environ={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/"}),
                    db, settings_policy)
    published = {}
    for pmid in (required[0], other[0]):
        with db.read() as conn:
            version = draft_store.get(conn, pmid).version
        review.approve(pmid, version, "alice")
        with db.read() as conn:
            published[pmid] = draft_store.get(conn, pmid).published
        assert published[pmid] is not None

    # `policy list` before: v0.1 active by configuration, the others drafts
    listing = invoke(cfg, "policy", "list")
    assert "v0.1\tactive (config)" in listing.stdout
    assert "v0.2-test\tdraft" in listing.stdout

    result = invoke(cfg, "policy", "activate", "v0.2-test", "--by", "carol",
                    "--note", "PEM: required definitions counted as optional")
    assert result.exit_code == 0, result.output
    assert "2 approved entries checked, 1 re-queued" in result.stdout

    with db.read() as conn:
        stale = draft_store.get(conn, required[0])
        kept = draft_store.get(conn, other[0])
        states = {r.version: r for r in policy_store.states(conn)}
    assert stale.state == "pending"
    assert stale.requeue_reason.startswith(
        "policy v0.2-test would change PEM status required → ")
    assert stale.published == published[required[0]]  # the published text unchanged
    assert kept.state == "approved" and kept.published == published[other[0]]
    assert states["v0.2-test"].state == "active"
    assert states["v0.2-test"].activated_by == "carol"
    assert states["v0.2-test"].activated_at is not None
    assert states["v0.1"].state == "retired"

    # every command now defaults to the store's active policy
    listing = invoke(cfg, "policy", "list")
    assert "v0.2-test\tactive" in listing.stdout and "v0.1\tretired" in listing.stdout
    status = invoke(cfg, "status", "--json")
    assert json.loads(status.stdout)["active_policy"] == "v0.2-test"
    again = invoke(cfg, "policy", "activate", "v0.2-test", "--by", "carol")
    assert again.exit_code == 2 and "already active" in again.output
    db.dispose()


def test_activation_refuses_a_policy_edited_after_activation(
        store: tuple[Path, str, Path]) -> None:
    cfg, url, policies = store
    db = open_database(url)
    policy = load_policy(policies, "v0.1-test")
    activate_policy(db, policy, lambda: PaperClassifier(policy), by="carol", previous=None)
    path = policies / "v0.1-test.toml"
    path.write_text(path.read_text() + "\n# edited\n")
    result = invoke(cfg, "rerun")
    assert result.exit_code == 2
    assert "changed after it was" in result.output
    db.dispose()


def test_corrections_export_and_training_examples(store: tuple[Path, str, Path],
                                                  tmp_path: Path) -> None:
    from scanner.policy.corrections import correction_examples, merge

    cfg, url, policies = store
    db = open_database(url)
    review = Review(load_settings(cfg, environ={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/"}),
                    db, load_policy(policies, "v0.1"))
    with db.read() as conn:
        pmid, label = conn.execute(select(Draft.pmid, Draft.relevance_label)
                                   .order_by(Draft.pmid)).first()  # type: ignore[misc]
    new = "adjacent" if label != "adjacent" else "mecfs"
    review.correct(pmid, "relevance", new, "alice", note="cohort is long COVID")
    result = invoke(cfg, "corrections", "export")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["pmid"], r["source"], r["relevance"]) for r in rows] == [(pmid, "store", new)]
    examples = correction_examples(db)
    assert [(e.paper.pmid, e.labels["relevance"]) for e in examples] == [(pmid, new)]
    merged, replaced, added = merge([], examples)
    assert (len(merged), replaced, added) == (1, 0, 1)
    # a new version's training never writes over another version's pinned artifact
    refused = invoke(cfg, "train", "--policy", "v0.1-test", "--corrections", "--no-embeddings",
                     "--labels", str(REPO / "data" / "demo" / "labels.csv"),
                     "--out", str(policies / "artifacts" / "v0.1"))
    assert refused.exit_code == 2
    assert "holds the artifact pinned by policy v0.1" in refused.output
    db.dispose()
