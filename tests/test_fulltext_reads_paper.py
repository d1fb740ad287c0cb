"""Reader ``passages-2`` (policy v0.4): a paper read from its full text where the record
falls short, as ``classify --fulltext`` and ``evaluate --fulltext`` see it.

A record with a title only (what the outside checks give ``classify --fulltext``): the
models judge the full text's abstract, and the full text decides whether the paper has
participants of its own. Policy v0.3 (reader ``passages-1``) stays as it was: the cohort
model, reading the title alone, decides, so such papers come out ``not_applicable``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifiers.document import from_plain
from classifiers.paper import Paper
from classifiers.pipeline import PaperClassifier, with_fulltext_abstract
from classifiers.policy import load_policy

REPO = Path(__file__).resolve().parents[1]

COHORT_TITLE = "Plasma cytokine profiles in myalgic encephalomyelitis/chronic fatigue syndrome"
COHORT_TEXT = """ORIGINAL RESEARCH
published: 12 March 2024
Plasma cytokine profiles in myalgic encephalomyelitis/chronic fatigue syndrome
A. Author1, B. Author2
1 Department of Medicine, Test University, Oslo, Norway
Abstract
Background: Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a chronic
disease with post-exertional malaise. Methods: We recruited 64 patients with ME/CFS and
40 healthy controls and measured 48 plasma cytokines. Results: Interleukin-6 was higher
in patients than in controls. Conclusions: Plasma cytokines differ in ME/CFS.
1. Introduction
ME/CFS affects many people. Reviews have summarised cytokine studies [1].
2. Methods
2.1 Participants
Sixty-four patients were recruited from a specialist clinic. All patients fulfilled the
Canadian Consensus Criteria [2]. Healthy controls were matched for age and sex. Written
informed consent was obtained from all participants.
2.2 Assays
Cytokines were measured in duplicate.
3. Results
Interleukin-6 was higher in patients.
4. Discussion
Our findings agree with earlier work.
References
1. Smith A. Cytokines in CFS: a review. J Test. 2010;1:1-10.
2. Carruthers BM, Jain AK, De Meirleir KL, et al. Myalgic encephalomyelitis/chronic
fatigue syndrome: clinical working case definition, diagnostic and treatment protocols.
J Chronic Fatigue Syndr. 2003;11:7-115.
"""

REVIEW_TITLE = "Mitochondrial function in myalgic encephalomyelitis/chronic fatigue syndrome"
REVIEW_TEXT = """REVIEW
published: 3 May 2024
Mitochondrial function in myalgic encephalomyelitis/chronic fatigue syndrome
C. Author1
1 Institute of Physiology, Test University, Leeds, UK
Abstract
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a disease in which
post-exertional malaise is the hallmark. This review summarises studies of mitochondrial
function in ME/CFS and discusses how they could explain exercise intolerance.
1. Introduction
Patients fulfilling the Canadian Consensus Criteria [1] report post-exertional malaise.
2. Methods
PubMed and Embase were searched for studies of mitochondria in ME/CFS. Studies were
included when they reported mitochondrial measures in patients.
3. Results
Twenty studies were included.
4. Discussion
Mitochondrial findings are inconsistent.
References
1. Carruthers BM, Jain AK, De Meirleir KL, et al. Myalgic encephalomyelitis/chronic
fatigue syndrome: clinical working case definition, diagnostic and treatment protocols.
J Chronic Fatigue Syndr. 2003;11:7-115.
"""


@pytest.fixture(scope="module")
def v04() -> PaperClassifier:
    return PaperClassifier(load_policy(REPO / "policies", "v0.4"))


def test_record_without_abstract_takes_the_full_texts() -> None:
    doc = from_plain(COHORT_TEXT)
    paper = with_fulltext_abstract(Paper("1", COHORT_TITLE, ""), doc)
    assert "We recruited 64 patients with ME/CFS" in paper.abstract
    assert "Department of Medicine" not in paper.abstract
    assert "affects many people" not in paper.abstract      # the introduction
    kept = Paper("2", COHORT_TITLE, "Its own abstract.")
    assert with_fulltext_abstract(kept, doc) is kept         # a record's abstract stays


def test_title_only_cohort_is_read_from_its_methods(v04: PaperClassifier) -> None:
    r = v04.classify([Paper("1", COHORT_TITLE, "")], [from_plain(COHORT_TEXT)])[0]
    assert r["relevance"]["label"] == "mecfs"
    assert r["pem"]["label"] == "required", r["pem"]["reason"]
    assert r["study"]["human_participants"] is True
    evs = [d["evidence"] for d in r["pem"]["definitions"]]
    assert any(e["source"] == "fulltext" for e in evs)
    for e in evs:                                 # offsets index the text as given
        if e["source"] == "fulltext":
            assert COHORT_TEXT[e["start"]:e["end"]] == e["text"]


def test_title_only_review_has_no_participants(v04: PaperClassifier) -> None:
    r = v04.classify([Paper("1", REVIEW_TITLE, "")], [from_plain(REVIEW_TEXT)])[0]
    assert r["pem"]["label"] == "not_applicable", r["pem"]["reason"]
    assert r["pem"]["definitions"] == [] or all(
        d["role"] != "inclusion" for d in r["pem"]["definitions"])
    assert r["study"]["human_participants"] is False


def test_v03_reader_unchanged_title_only_is_not_read() -> None:
    """Policy v0.3 is immutable: the title-only cohort keeps its v0.3 label."""
    v03 = PaperClassifier(load_policy(REPO / "policies", "v0.3"))
    r = v03.classify([Paper("1", COHORT_TITLE, "")], [from_plain(COHORT_TEXT)])[0]
    assert r["pem"]["label"] != "required"
    assert "full text read" not in r["pem"]["reason"]


def test_evaluate_fulltext_runs_the_whole_pipeline(tmp_path: Path) -> None:
    from scanner.cli import cli

    root = tmp_path / "texts"
    root.mkdir()
    (root / "cohort.txt").write_text(COHORT_TEXT)
    (root / "review.txt").write_text(REVIEW_TEXT)
    (root / "index.jsonl").write_text("".join(
        json.dumps({"title": t, "copied_files": [f]}) + "\n"
        for t, f in ((COHORT_TITLE, "cohort.txt"), (REVIEW_TITLE, "review.txt"))))
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "expected", "definitions", "own_cohort", "split"])
        w.writerow(["cohort.txt", "required", "ccc_2003", "true", "heldout"])
        w.writerow(["review.txt", "not_applicable", "", "false", "heldout"])
    out = {}
    for version in ("v0.3", "v0.4"):
        res = CliRunner().invoke(cli, ["evaluate", "--policy", version, "--fulltext",
                                        str(labels), "--texts", str(root)])
        assert res.exit_code == 0, res.output
        out[version] = res.output
    assert "accuracy: 2/2" in out["v0.4"]
    # v0.3's cohort model reads the title alone: the cohort is missed (what it really does)
    assert "accuracy: 1/2" in out["v0.3"]


def test_scans_fetch_the_full_text_of_mecfs_papers_without_a_cohort_under_passages_2(
        v04: PaperClassifier) -> None:
    """Under passages-2 the full text decides participants, so a scan also fetches it for
    an ME/CFS paper the abstract models judged to have none; v0.3 does not."""
    from scanner.policy.fulltext import wants_fulltext

    v03 = load_policy(REPO / "policies", "v0.3")
    abstract = ("This review summarises studies of mitochondrial function in myalgic "
                "encephalomyelitis/chronic fatigue syndrome (ME/CFS) and discusses how they "
                "could explain post-exertional malaise.")
    r = v04.classify([Paper("1", REVIEW_TITLE, abstract)])[0]
    assert r["relevance"]["label"] == "mecfs" and r["pem"]["label"] == "not_applicable"
    assert wants_fulltext(v04.policy, r)
    assert not wants_fulltext(v03, r)
    # the full text then decides: a review's stays not_applicable
    read = v04.classify([Paper("1", REVIEW_TITLE, abstract)], [from_plain(REVIEW_TEXT)])[0]
    assert read["pem"]["label"] == "not_applicable"
    not_mecfs = {**r, "relevance": {**r["relevance"], "label": "adjacent"}}
    assert not wants_fulltext(v04.policy, not_mecfs)


def test_default_scan_escalates_and_a_rerun_reads_the_stored_text(tmp_path: Path) -> None:
    """The shipped default (v0.4) scan fetches PMC full text for an ME/CFS cohort whose
    abstract names no definition, reads its methods, stores the text; a rerun reproduces
    the labels from the stored text without a request."""
    from scanner.policy.rerun import rerun
    from tests.test_fulltext import scan_with_pmc

    with scan_with_pmc(tmp_path, "v0.4") as scan:
        results, texts, pmc, server = scan.results, scan.texts, scan.pmc_calls, scan.server
        db, policy, clf = scan.db, scan.policy, scan.clf
        assert all(r["relevance"]["label"] == "mecfs" for r in results.values())
        assert pmc
        r1 = results["99100001"]["pem"]
        assert r1["label"] == "required", r1["reason"]
        assert any(d["evidence"]["source"] == "fulltext" for d in r1["definitions"])
        assert texts["99100001"].status == "ok"
        assert results["99100003"]["pem"]["label"] == "unclear"
        assert "no PMCID" in results["99100003"]["pem"]["reason"]
        before = len(server.requests_for("efetch"))
        report = rerun(db, policy, clf, verify=True, ledger=False)
        assert report.compared == len(results) and report.ok, report.summary()
        assert len(server.requests_for("efetch")) == before      # no request
