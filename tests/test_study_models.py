"""Policy v0.3: the trained study-design and own-ME/CFS-cohort models, the PEM decision
that uses them, and evaluation figures that are never in-sample (issue 17)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import pickle
import re
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sqlalchemy import select

from classifiers.cohort import CohortModel, MecfsCohortModel, own_cohort
from classifiers.components import attach_encoder, needs_encoder
from classifiers.design import DesignResult
from classifiers.design_model import (
    DesignModel,
    EmbeddingDesignModel,
    _meta_tokens,
    cue_tokens,
    meta_tokens_with_cues,
)
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


# -- policy v0.4's components: design_lr_emb (MiniLM embedding appended), cohort_lr_mecfs --

class StubEncoder:
    """Deterministic 384-d unit vectors per text, in place of the MiniLM encoder (which
    needs torch); it holds a lock, so a model that pickled its encoder would fail to."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "big")
            v = np.random.default_rng(seed).normal(size=384)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 384)


_DESIGN_TEXTS = {
    "review": ("A systematic review of {} studies", "We searched PubMed and Embase; {} "
               "studies were included in the meta-analysis of the literature."),
    "observational": ("A cohort study of {} patients", "We recruited {} patients and "
                      "healthy controls; blood markers were measured at baseline."),
    "in_vitro": ("Cultured cells exposed to {} compounds", "Cell lines were cultured in "
                 "vitro with {} compounds and cytokine release was measured."),
}


def _design_set() -> tuple[list[Paper], list[str]]:
    papers, y = [], []
    for design, (title, abstract) in _DESIGN_TEXTS.items():
        for i in range(8):
            papers.append(Paper(pmid=f"{design}{i}", title=title.format(i + 10),
                                abstract=abstract.format(i + 10)))
            y.append(design)
    return papers, y


def _cohort_set() -> tuple[list[Paper], list[str], list[str]]:
    """ME/CFS papers with and without own participants, and off-topic papers whose
    word ``zebrawelding`` the ME/CFS-scoped model must never see."""
    papers, y, relevance = [], [], []
    for i in range(8):
        papers.append(Paper(pmid=f"yes{i}", title=f"Exercise testing in ME/CFS, study {i}",
                            abstract=f"We recruited {30 + i} patients with myalgic "
                                     "encephalomyelitis/chronic fatigue syndrome and controls."))
        y.append("yes")
        relevance.append("mecfs")
        papers.append(Paper(pmid=f"no{i}", title=f"Myalgic encephalomyelitis: a review {i}",
                            abstract="In this narrative review we summarise current evidence "
                                     "on chronic fatigue syndrome."))
        y.append("no")
        relevance.append("mecfs")
        papers.append(Paper(pmid=f"off{i}", title=f"Zebrawelding of alloys {i}",
                            abstract="Zebrawelding joints were tested for strength."))
        y.append("no")
        relevance.append("not_relevant")
    return papers, y, relevance


def test_study_components_are_registered_and_policies_name_one_of_each() -> None:
    from pydantic import ValidationError

    from classifiers.components import STUDY, estimator
    from classifiers.policy import StudySpec

    assert estimator("design_lr_emb") is EmbeddingDesignModel
    assert estimator("cohort_lr_mecfs") is MecfsCohortModel
    assert estimator("design_lr") is DesignModel and estimator("cohort_lr") is CohortModel
    assert set(STUDY) == {"design_lr", "design_lr_emb", "cohort_lr", "cohort_lr_mecfs"}
    pin = {"path": "x.joblib", "sha256": "0" * 64}
    spec = StudySpec(components=("design_lr_emb", "cohort_lr_mecfs"), design=pin, cohort=pin)
    assert spec.components == ("design_lr_emb", "cohort_lr_mecfs")
    for bad, why in ((("design_lr", "svm"), "unknown study component"),
                     (("design_lr", "design_lr_emb", "cohort_lr"), "exactly one design"),
                     (("design_lr",), "exactly one cohort")):
        with pytest.raises(ValidationError, match=why):
            StudySpec(components=bad, design=pin, cohort=pin)


def test_embedding_design_model_fits_predicts_and_pickles_without_its_encoder(
        tmp_path: Path) -> None:
    papers, y = _design_set()
    model = EmbeddingDesignModel(C=4.0)
    assert model.get_params() == {"C": 4.0, "min_df": 2, "max_features": 50000,
                                  "random_state": 0, "embedding_weight": 2.0}
    with pytest.raises(RuntimeError, match="needs an encoder attached"):
        model.fit(papers, y)
    encoder = StubEncoder()
    attach_encoder([model], encoder)
    assert model.fit(papers, y, rule_pubtypes=("Review",)) is model and encoder.calls
    assert list(model.predict(papers)) == y
    proba = model.predict_proba(papers)
    words = len(model.vectorizer_.vocabulary_) + len(model.meta_.vocabulary_)
    assert model.model_.coef_.shape[1] == words + 384           # the embedding is in
    digests = set()
    for run, fitted in enumerate((model, _fit_again(model, papers, y, encoder))):
        path = tmp_path / f"design{run}.joblib"     # the encoder is never pickled; the
        joblib.dump(fitted, path, compress=3)       # bytes repeat across training runs
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1
    loaded = joblib.load(tmp_path / "design0.joblib")
    assert type(loaded) is EmbeddingDesignModel and loaded.encoder is None
    assert loaded.rule_pubtypes_ == ("Review",)
    with pytest.raises(RuntimeError, match="EmbeddingDesignModel needs an encoder"):
        loaded.predict_proba(papers)
    attach_encoder([loaded], StubEncoder())
    assert np.allclose(loaded.predict_proba(papers), proba)
    assert model.encoder is encoder                    # pickling left the original alone


def test_embedding_design_model_embeds_only_the_papers_asked_for() -> None:
    """Cheap stages first: papers outside ``embed`` (not relevant, no ME/CFS named) are
    judged by ``light_``, the plain model fitted on the same papers, and never embedded."""
    papers, y = _design_set()
    encoder = StubEncoder()
    model = EmbeddingDesignModel()
    attach_encoder([model], encoder)
    model.fit(papers, y)
    assert type(model.light_) is DesignModel
    light = model.light_.predict_proba(papers)
    heavy = model.predict_proba(papers)
    calls = encoder.calls
    assert np.allclose(model.predict_proba(papers, [False] * len(papers)), light)
    assert encoder.calls == calls                       # nothing embedded
    mask = [i % 2 == 0 for i in range(len(papers))]
    mixed = model.predict_proba(papers, mask)
    assert np.allclose(mixed[0::2], heavy[0::2]) and np.allclose(mixed[1::2], light[1::2])
    assert [r.design for r in model.classify(papers, mask)] == y


def _fit_again(model: EmbeddingDesignModel, papers: list[Paper], y: list[str],
               encoder: StubEncoder) -> EmbeddingDesignModel:
    again = clone(model)
    again.encoder = encoder
    return again.fit(papers, y, rule_pubtypes=("Review",))


def test_mecfs_cohort_model_learns_from_mecfs_papers_only(tmp_path: Path) -> None:
    papers, y, relevance = _cohort_set()
    model = MecfsCohortModel().fit(papers, y, relevance=relevance)
    assert "zebrawelding" not in model.vectorizer_.vocabulary_     # off-topic: not seen
    assert "cue_review" in model.meta_.vocabulary_
    assert "cue_own_sample" in model.meta_.vocabulary_
    assert list(model.predict(papers[:2])) == ["yes", "no"]
    plain = CohortModel().fit(papers, y)                      # v0.3's model sees them all
    assert "zebrawelding" in plain.vectorizer_.vocabulary_
    assert "cue_review" not in plain.meta_.vocabulary_
    path = tmp_path / "cohort.joblib"
    joblib.dump(model, path, compress=3)
    loaded = joblib.load(path)
    assert type(loaded) is MecfsCohortModel
    assert np.array_equal(loaded.score_yes(papers), model.score_yes(papers))
    assert not needs_encoder(loaded) and not needs_encoder(plain)
    with pytest.raises(ValueError, match="differ in length"):
        MecfsCohortModel().fit(papers, y, relevance=relevance[:-1])
    # without relevance labels only papers naming ME/CFS count (all the ME/CFS ones here)
    unlabelled = MecfsCohortModel().fit(papers, y)
    assert "zebrawelding" not in unlabelled.vectorizer_.vocabulary_


def test_text_cues_name_reviews_meta_analyses_and_own_samples() -> None:
    meta = Paper(pmid="1", title="Immune markers in ME/CFS: a meta-analysis",
                 abstract="We searched MEDLINE and Embase; 14 studies were included.")
    cohort = Paper(pmid="2", title="Sleep in ME/CFS",
                   abstract="Forty-two patients were recruited (n = 42).")
    assert {"cue_sysrev"} <= set(cue_tokens(meta)) and "cue_own_sample" in cue_tokens(cohort)
    assert meta_tokens_with_cues(meta).startswith(_meta_tokens(meta) + " ")
    assert cue_tokens(Paper(pmid="3", title="", abstract="")) == []


def test_study_training_chooses_components_and_adds_training_only_examples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.training import study_train

    papers, y = _design_set()
    cpapers, cy, relevance = _cohort_set()
    pem = {"yes": "unclear", "no": "not_applicable"}
    examples = [Example(p, {"design": d, "pem": "not_applicable", "relevance": "not_relevant"})
                for p, d in zip(papers, y, strict=True)]
    examples += [Example(p, {"design": "observational" if c == "yes" else "review",
                             "pem": pem[c], "relevance": r})
                 for p, c, r in zip(cpapers, cy, relevance, strict=True)]
    extra = [Example(Paper(pmid=f"x{i}", title=f"A cohort study of {i} patients",
                           abstract=f"We recruited {i} patients."),
                     {"design": "observational", "pem": "not_applicable"}) for i in range(3)]
    extra.append(Example(Paper(pmid="x9", title="t", abstract="a"), {"design": ""}))
    encoder = StubEncoder()
    sizes: list[int] = []
    fit_design = study_train.fit_design

    def spy(rows: Sequence[Example], **kw: Any) -> Any:
        sizes.append(len(rows))
        return fit_design(rows, **kw)

    monkeypatch.setattr(study_train, "fit_design", spy)
    proba, _ = study_train.oof_design(examples, k=3, component="design_lr_emb",
                                      encoder=encoder, extra=extra)
    assert proba.shape == (len(examples), 11)                  # extra rows never scored
    splits = study_train.folds(examples, [e.labels["design"] for e in examples], k=3)
    assert sizes == [len(tr) + 3 for tr, _ in splits]         # the design-labelled extras
    # the cascade as the pipeline runs it: papers outside ``embed`` get the fold model's
    # plain ``light_`` probabilities, which are the plain design_lr's on the same folds
    mask = [i % 2 == 0 for i in range(len(examples))]
    cascade, _ = study_train.oof_design(examples, k=3, component="design_lr_emb",
                                        encoder=encoder, extra=extra, embed=mask)
    plain, _ = study_train.oof_design(examples, k=3, extra=extra)
    off = ~np.asarray(mask)
    assert np.allclose(cascade[off], plain[off]) and np.allclose(cascade[~off], proba[~off])
    assert not np.allclose(cascade[~off], plain[~off])
    with pytest.raises(ValueError, match="needs an embedding encoder"):
        study_train.oof_design(examples, k=3, component="design_lr_emb")
    with pytest.raises(ValueError, match="not a design component"):
        study_train.oof_design(examples, k=3, component="cohort_lr")
    scores = study_train.oof_cohort(examples, k=3, component="cohort_lr_mecfs", extra=extra)
    assert scores.shape == (len(examples),)
    assert np.array_equal(study_train.oof_cohort(examples, k=3),
                          study_train.oof_cohort(examples, k=3, component="cohort_lr"))
    pins = study_train.fit_and_write(examples, tmp_path, ("Review",), design="design_lr_emb",
                                     cohort="cohort_lr_mecfs", encoder=encoder, extra=extra)
    design = joblib.load(tmp_path / pins["design"]["path"])
    cohort = joblib.load(tmp_path / pins["cohort"]["path"])
    assert type(design) is EmbeddingDesignModel and design.encoder is None
    assert type(cohort) is MecfsCohortModel
    assert sizes[-1] == len(examples) + 3


def test_the_pipeline_hook_checks_the_components_and_attaches_one_encoder() -> None:
    from classifiers.components import prepare_study_models
    from classifiers.embedding import Encoder

    v03 = load_policy(POLICIES, "v0.3")
    assert v03.study is not None
    papers, y = _design_set()
    stub = StubEncoder()
    design = EmbeddingDesignModel()
    design.encoder = stub
    design.fit(papers, y)
    cpapers, cy, relevance = _cohort_set()
    cohort = MecfsCohortModel().fit(cpapers, cy, relevance=relevance)
    with pytest.raises(PolicyError, match="names the study component 'design_lr'"):
        prepare_study_models(v03, design, cohort)
    v04 = v03.model_copy(update={"study": v03.study.model_copy(
        update={"components": ("design_lr_emb", "cohort_lr_mecfs")})})
    loaded = pickle.loads(pickle.dumps(design))
    assert loaded.encoder is None
    shared = StubEncoder()
    prepare_study_models(v04, loaded, cohort, cast(Any, shared))   # the relevance encoder
    assert loaded.encoder is shared
    fresh = pickle.loads(pickle.dumps(design))
    prepare_study_models(v04, fresh, cohort)         # none shared: one from the policy's pin
    assert isinstance(fresh.encoder, Encoder) and v04.relevance.embedding is not None
    assert fresh.encoder.sha256 == v04.relevance.embedding.sha256
    no_pin = v04.model_copy(update={"relevance": v04.relevance.model_copy(
        update={"embedding": None})})
    with pytest.raises(PolicyError, match="pins no embedding model"):
        prepare_study_models(no_pin, pickle.loads(pickle.dumps(design)), cohort)
    with pytest.raises(PolicyError, match="names the study component 'cohort_lr_mecfs'"):
        prepare_study_models(v04, loaded, CohortModel())


def test_v03_artifacts_load_as_v03_estimators(v03: PaperClassifier) -> None:
    """v0.3's pinned artifacts keep their classes (and need no encoder)."""
    assert type(v03.design_model) is DesignModel and type(v03.cohort_model) is CohortModel
    assert not needs_encoder(v03.design_model) and not needs_encoder(v03.cohort_model)


@pytest.mark.parametrize("command", [["train-study", "--keep-relevance", "--out", "{out}"],
                                     ["evaluate"], ["train", "--out", "{out}"]])
def test_a_missing_label_file_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    """A labels or training-only file that does not exist: one usage error (64), no
    traceback, nothing trained."""
    from click.testing import CliRunner

    from scanner.cli import cli

    option = "--extra" if command[0] == "train-study" else "--labels"
    missing = str(tmp_path / "missing.csv")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [c.format(out=out) for c in command] + [option, missing])
    assert res.exit_code == 64, res.output
    assert "does not exist" in res.output and "Traceback" not in res.output
    assert not out.exists()
