"""Policy v0.3: the trained study-design and own-ME/CFS-cohort models, the PEM decision
that uses them, and evaluation figures that are never in-sample (issue 17)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import joblib
import pytest
from sqlalchemy import select

from classifiers.cohort import own_cohort
from classifiers.design import DesignResult
from classifiers.design_model import DesignModel
from classifiers.paper import Paper
from classifiers.pipeline import PaperClassifier, training_manifest, training_pmids
from classifiers.policy import load_policy
from scanner.errors import PolicyError
from scanner.policy.compare import compare_results
from scanner.policy.diff import _headline
from scanner.policy.rerun import rerun
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.store import runs
from scanner.store.db import open_database
from scanner.store.models import Classification
from scanner.store.records import upsert_records
from scanner.training.datasets import (
    UNVERIFIED,
    Example,
    load_labelled,
    parse_abstract_file,
    unverified_key,
)
from scanner.training.evaluate import format_honest, honest_evaluate
from scanner.training.study_train import folds, groups
from tests.conftest import REPO, require_shared_data

POLICIES = REPO / "policies"

#: Written for this test in the manner of Lusso et al., Nature 1993 (PMID 7681936, not in
#: ../shared/data): NK-cell clones infected with HHV-6 in culture, chronic fatigue syndrome
#: named once as a disease HHV-6 has been linked with. Not a labelled record.
LUSSO_LIKE = Paper(
    pmid="990000001",
    title="Infection of natural killer cells by human herpesvirus 6",
    abstract=(
        "Natural killer (NK) cells are a critical component of the host defence against "
        "viral infections and tumours. Human herpesvirus 6 (HHV-6), a T-lymphotropic "
        "herpesvirus, has been associated with several diseases, including exanthem "
        "subitum and chronic fatigue syndrome. Here we show that HHV-6 infects mature NK "
        "cell clones in vitro. Infected clones expressed viral antigens, induced de novo "
        "expression of CD4 and lost part of their cytolytic activity against tumour target "
        "cell lines. Productive infection of NK cells in culture suggests a mechanism by "
        "which HHV-6 may impair the natural immune response."),
)

#: An abstract in the style of the issue's example: own participants diagnosed with CFS by
#: the Fukuda criteria, the citation in brackets after the count (written for the test).
FUKUDA_COHORT = Paper(
    pmid="990000002",
    title="Cardiopulmonary exercise testing in chronic fatigue syndrome",
    abstract=(
        "Background: Post-exertional malaise is a hallmark of chronic fatigue syndrome "
        "(CFS). Methods: Thirty-two patients diagnosed with CFS (Fukuda et al., 1994) and "
        "twenty-eight healthy sedentary controls completed two cardiopulmonary exercise "
        "tests 24 hours apart. Results: Patients with CFS showed lower oxygen consumption "
        "at the ventilatory threshold on the second test than controls. Conclusions: "
        "Exercise capacity fails to reproduce in CFS."),
)


@pytest.fixture(scope="module")
def dev() -> list[Example]:
    return load_labelled(REPO / "data" / "labels" / "dev.csv")


@pytest.fixture(scope="module")
def v03() -> PaperClassifier:
    return PaperClassifier(load_policy(POLICIES, "v0.3"), embeddings=False)


def test_grouped_folds_keep_near_duplicate_titles_on_one_side() -> None:
    papers = [Paper(pmid=str(i), title=f"Study {i // 2} of ME/CFS.", abstract="")
              for i in range(40)]                 # pairs: the same title under two PMIDs
    examples = [Example(p, {"design": "review" if i % 4 < 2 else "observational"})
                for i, p in enumerate(papers)]
    g = groups(examples)
    assert g[0] == g[1] != g[2]
    splits = folds(examples, [e.labels["design"] for e in examples], k=5)
    assert len(splits) == 5
    for train_idx, test_idx in splits:
        assert not {g[i] for i in train_idx} & {g[i] for i in test_idx}
        assert not {papers[i].pmid for i in train_idx} & {papers[i].pmid for i in test_idx}


def test_honest_evaluation_never_reports_training_papers() -> None:
    examples = [Example(Paper(pmid=str(i), title="t", abstract="a"),
                        {"relevance": "mecfs" if i % 2 else "not_relevant",
                         "pem": "not_applicable", "design": "review"}) for i in range(6)]
    results = [{"relevance": {"label": "mecfs", "score": 0.9, "route": "auto_include"},
                "pem": {"label": "not_applicable", "route": "auto", "definitions": []},
                "study": {"design": "review", "human_participants": False}}
               for _ in examples]
    manifest = training_manifest(load_policy(POLICIES, "v0.3"))
    assert manifest is not None
    report = honest_evaluate(examples, results, {"0", "1", "2", "3"}, manifest)
    assert report["n"] == 2 and report["in_training_excluded"] == 4
    assert report["relevance"]["accuracy"] == 0.5                # papers 4 and 5 only
    text = format_honest(report)
    assert "4 labelled papers were in the training data: not evaluated" in text
    assert "out-of-fold, 5-fold" in text and "own ME/CFS cohort precision" in text
    everything = honest_evaluate(examples, results, {e.paper.pmid for e in examples},
                                 manifest)
    assert everything["n"] == 0 and "relevance" not in everything
    assert "no labelled papers disjoint from the training data" in format_honest(everything)
    headline = _headline(everything)           # what `scanner diff` prints per policy
    assert headline.startswith("none disjoint from training (6 in-sample papers not")
    assert "out-of-fold, 5-fold" in headline and "accuracy 1.000" not in headline


def test_the_cohort_decision_follows_the_design_and_the_topic() -> None:
    review = DesignResult("review", False, "")
    cohort = DesignResult("observational", True, "")
    assert not own_cohort(0.99, review, "mecfs", True, 0.5).own_cohort
    assert not own_cohort(0.99, cohort, "not_relevant", False, 0.5).own_cohort
    assert own_cohort(0.99, cohort, "adjacent", True, 0.5).own_cohort   # names ME/CFS
    assert not own_cohort(0.3, cohort, "mecfs", True, 0.5).own_cohort


def test_v03_loads_and_refuses_an_artifact_whose_sha256_differs(tmp_path: Path) -> None:
    policy = load_policy(POLICIES, "v0.3")
    assert policy.study is not None and policy.fulltext is not None
    assert policy.fulltext == load_policy(POLICIES, "v0.2").fulltext
    for pin in (policy.study.design, policy.study.cohort, policy.relevance.artifact):
        assert pin is not None
        data = (POLICIES / pin.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == pin.sha256
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    target = copy / policy.study.cohort.path
    model = joblib.load(target)
    model.C = model.C + 1.0                     # a different model under the same name
    buf = io.BytesIO()
    joblib.dump(model, buf)
    target.write_bytes(buf.getvalue())
    with pytest.raises(PolicyError, match=r"cohort artifact cohort\.joblib has sha256"):
        PaperClassifier(load_policy(copy, "v0.3"), embeddings=False)


def test_artifacts_are_byte_identical_across_training_runs(tmp_path: Path,
                                                          dev: list[Example]) -> None:
    examples = dev[:150]
    papers, y = [e.paper for e in examples], [e.labels["design"] for e in examples]
    digests = set()
    for run in range(2):
        path = tmp_path / f"design{run}.joblib"
        joblib.dump(DesignModel().fit(papers, y, rule_pubtypes=("Review",)), path, compress=3)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_an_own_cohort_with_a_cited_definition_is_inclusion(v03: PaperClassifier) -> None:
    [result] = v03.classify([FUKUDA_COHORT])
    assert result["study"]["human_participants"] is True
    assert result["pem"]["label"] == "not_required", result["pem"]["reason"]
    [use] = result["pem"]["definitions"]
    assert use["id"] == "fukuda_1994" and use["role"] == "inclusion"
    assert "Fukuda" in use["evidence"]["text"]


def test_an_in_vitro_nk_cell_paper_has_no_participants(v03: PaperClassifier) -> None:
    [result] = v03.classify([LUSSO_LIKE])
    assert result["study"] == {"design": "in_vitro", "human_participants": False}
    assert result["pem"]["label"] == "not_applicable"
    [(_design, decision)] = v03.study([LUSSO_LIKE])
    assert decision is not None and not decision.own_cohort


def test_mecfs_reviews_are_not_applicable(v03: PaperClassifier, dev: list[Example]) -> None:
    examples = [e for e in dev
                if e.labels["relevance"] == "mecfs" and e.labels["design"] == "review"]
    assert len(examples) >= 15
    results = v03.classify([e.paper for e in examples])
    na = sum(r["pem"]["label"] == "not_applicable" for r in results)
    # in-sample (these reviews are training data): a behaviour check, not an evaluation
    assert na / len(results) >= 0.9
    assert all(r["study"]["human_participants"] is not True for r in results
               if r["study"]["design"] == "review")


def test_verbatim_abstract_files_parse_to_title_and_abstract(dev: list[Example]) -> None:
    export = ("1. Clin Ther. 2024 Mar;46(3):285-288. doi: 10.1016/x.\n\nA title\nover two "
              "lines.\n\nDoe J(1), Roe R(2).\n\nAuthor information:\n(1)Somewhere.\n\n"
              "PURPOSE: " + "words " * 50 + "\n\nCopyright 2024.\n\nPMID: 1 [Indexed]\n")
    assert parse_abstract_file(export) == ("A title over two lines.",
                                           "PURPOSE: " + " ".join(["words"] * 50))
    headed = ("Title: T\nAuthors: A\nPMID: 2\n\nABSTRACT:\nBACKGROUND: b.\nMETHODS: m.\n")
    assert parse_abstract_file(headed) == ("T", "BACKGROUND: b. METHODS: m.")
    examples = [e for e in dev if e.paper.pmid == "38965566"]
    assert "Canadian Criteria; n = 84" in examples[0].paper.abstract


def test_a_v03_rerun_reproduces_its_own_results(db_url: str, tmp_path: Path) -> None:
    policy = load_policy(POLICIES, "v0.3")
    records = [r for r in iter_pubmed_xml(REPO / "data" / "demo" / "pubmed_demo.xml")
               if isinstance(r, ParsedRecord)]
    stores = [open_database(db_url), open_database(f"sqlite:///{tmp_path / 'b.sqlite'}")]
    results: list[dict[str, Any]] = []
    for db in stores:
        with db.write() as conn:
            upsert_records(conn, records, scan_run_id=None, now=runs.utcnow())
        report = rerun(db, policy, lambda: PaperClassifier(policy))
        assert report.stored_new > 0
        with db.read() as conn:
            results.append(dict(conn.execute(
                select(Classification.pmid, Classification.result)
                .where(Classification.policy_version == "v0.3")).all()))
        db.dispose()
    assert results[0].keys() == results[1].keys()
    for pmid, stored in results[0].items():
        assert compare_results(stored, results[1][pmid]) == [], pmid
    assert training_pmids(policy)


LABELS = REPO / "data" / "labels"
ALLOWED = {
    "relevance": {"mecfs", "adjacent", "not_relevant"},
    "pem": {"required", "not_required", "mixed", "unclear", "not_applicable"},
    "design": {"rct", "trial_other", "observational", "case_report", "qualitative",
               "in_vitro", "animal", "review", "guideline", "commentary", "other"},
    "human_participants": {"true", "false"},
}


def test_unverified_layouts_parse_to_title_and_abstract() -> None:
    cited = ("Doe JA, Roe B, et al. A cited title: an observational study. Clin Med (Lond).\n"
             "2021;21(1):e83.\nDOI: 10.1/x | PMID: 3\n\nABSTRACT (from PubMed):\nSome text.\n"
             "More text.\n\nRelevance: why a curator kept it.\n")
    assert parse_abstract_file(cited, curated=True) == (
        "A cited title: an observational study.", "Some text. More text.")
    titled = ("PMID: 4\nTitle: A title that goes\n      on.\nAuthors: A B\n\nAbstract:\n"
              "Body text.\n\nKey implication: a curator's note.\n")
    assert parse_abstract_file(titled, curated=True) == ("A title that goes on.", "Body text.")
    plain = ("A plain title\n\nFirst paragraph.\n\nSecond paragraph.\n\nDOI: 10.1/y\n"
             "PubMed: 5\nRetrieved: 2026-01-25\n")
    assert parse_abstract_file(plain) == ("A plain title", "First paragraph. Second paragraph.")
    journal = ("Cell Death Dis. 2026 Jan 9;17(1):16. doi: 10.1/z.\n\nThe title.\n\nDoe J, Roe R."
               "\n\n" + "word " * 60 + "\n\nPMID: 6\n")
    assert parse_abstract_file(journal) == ("The title.", " ".join(["word"] * 60))


def test_train_only_rows_load_with_allowed_labels_and_never_an_evaluated_paper(
        dev: list[Example]) -> None:
    """data/labels/train_only.csv (possibly paraphrased texts, training only): every row
    joins a title and an abstract, every value is allowed, and no paper is one that is
    scored (dev.csv, or the full texts of fulltext_dev.csv) by PMID, DOI or title."""
    shared = require_shared_data()
    path = LABELS / "train_only.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (LABELS / "dev.csv").open(newline="", encoding="utf-8") as fh:
        assert csv.DictReader(fh).fieldnames == list(rows[0])
    examples = load_labelled(path)
    assert len(examples) == len(rows) == len({r["pmid"] for r in rows}) >= 30
    definitions = {d.id for d in load_policy(POLICIES, "v0.3").case_definitions}
    for row, ex in zip(rows, examples, strict=True):
        assert row["source"] == "mecfs_unverified"
        assert ex.paper.pmid == row["pmid"]
        assert ex.paper.title.strip() and ex.paper.abstract.strip(), row["pmid"]
        assert len(ex.paper.title) < 400, row["pmid"]  # a title, not a paragraph
        assert all(row[k] in allowed for k, allowed in ALLOWED.items()), row
        ids = [d for d in row["definitions"].split(";") if d]
        assert set(ids) <= definitions, row
        assert (row["pem"] in {"required", "not_required", "mixed"}) == bool(ids), row
        if row["pem"] != "not_applicable":
            assert row["relevance"] == "mecfs" and row["human_participants"] == "true", row
        if row["design"] in {"in_vitro", "animal", "review", "guideline", "commentary"}:
            assert row["human_participants"] == "false", row

    index = [json.loads(line) for line in
             (shared / "mecfs_fulltext" / "index.jsonl").open(encoding="utf-8")]
    entry: dict[str, dict[str, Any]] = {}
    for d in index:
        if d.get("fidelity") == UNVERIFIED:
            entry.setdefault(unverified_key(d), d)
    pmids, dois = set(), set()
    for row in rows:
        d = entry[row["pmid"]]
        pmids |= {str(d["pmid"])} if d.get("pmid") else set()
        pmids |= set(re.findall(r"(?<!\d)\d{7,8}(?!\d)", d["id"]))  # "29696075_abstract.txt"
        dois |= {d["doi"].lower()} if d.get("doi") else set()
    by_file = {f: d for d in index for f in d["copied_files"]}
    with (LABELS / "fulltext_dev.csv").open(newline="", encoding="utf-8") as fh:
        fulltexts = [by_file[r["file"]] for r in csv.DictReader(fh)]
    assert not pmids & {e.paper.pmid for e in dev}
    assert not pmids & {str(d["pmid"]) for d in fulltexts if d.get("pmid")}
    assert not dois & {d["doi"].lower() for d in fulltexts if d.get("doi")}

    def norm(title: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()

    scored = {norm(e.paper.title) for e in dev} | {norm(d["title"] or "") for d in fulltexts}
    assert not {norm(ex.paper.title) for ex in examples} & scored
