"""The passage reader on the failure kinds met in real methods sections (issue 18).

Each fixture under tests/fixtures/fulltext/reader/ is a short project-written text that
reproduces one kind of miss seen on real PDF-extracted papers; ``cohort=None`` throughout,
as for a paper whose abstract does not say whether it has participants of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.document import from_plain, normalised_view
from classifiers.fulltext_cohort import article_type, own_participants
from classifiers.fulltext_reader import classify_with_fulltext
from classifiers.pem import Definition, PemClassifier, PemResult
from classifiers.policy import load_policy

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "fulltext" / "reader"


@pytest.fixture(scope="module")
def pem() -> PemClassifier:
    pol = load_policy(REPO / "policies", "v0.2")
    return PemClassifier([Definition(d.id, d.name, d.pem, d.patterns, d.ambiguous)
                          for d in pol.case_definitions], weak_as=pol.pem.weak_as,
                         auto_confidence=pol.pem.auto_confidence)


def read(pem: PemClassifier, name: str, title: str = "") -> tuple[str, PemResult]:
    raw = (FIX / name).read_bytes().decode("utf-8")
    res = classify_with_fulltext(pem, {"title": title, "abstract": ""}, from_plain(raw),
                                 cohort=None)
    for u in res.definitions:                     # offsets index the text exactly as read
        assert raw[u.evidence.start:u.evidence.end] == u.evidence.text
    return raw, res


def inclusion(res: PemResult) -> set[str]:
    return {u.id for u in res.definitions if u.role == "inclusion"}


def test_cohort_with_cell_work_is_not_read_as_in_vitro(pem: PemClassifier) -> None:
    _, res = read(pem, "cohort_with_cell_work.txt")
    assert res.label == "required", res.reason
    assert inclusion(res) == {"ccc_2003"}          # "(3)": by reference number
    assert "participants of its own" in res.reason


def test_review_without_methods_is_not_applicable(pem: PemClassifier) -> None:
    _, res = read(pem, "review_no_methods.txt")
    assert res.label == "not_applicable", res.reason
    assert "review" in res.reason


def test_systematic_review_methods_are_a_literature_search(pem: PemClassifier) -> None:
    _, res = read(pem, "systematic_review.txt")
    assert res.label == "not_applicable", res.reason
    assert "literature search" in res.reason


def test_criteria_in_a_plain_text_table(pem: PemClassifier) -> None:
    doc = from_plain((FIX / "criteria_table.txt").read_text(encoding="utf-8"))
    assert any(s.kind == "table" and "Inclusion and exclusion" in s.title
               for s in doc.sections)
    _, res = read(pem, "criteria_table.txt")
    assert res.label == "required", res.reason
    assert inclusion(res) == {"icc_2011"}


def test_superscript_citation_glued_to_criteria(pem: PemClassifier) -> None:
    raw, res = read(pem, "superscript_citation.txt")
    view = normalised_view(raw)
    assert "criteria[6]," in view.text              # the view brackets the glued citation
    assert res.label == "required", res.reason
    assert "ccc_2003" in inclusion(res)


def test_running_heads_dropped_and_who_definition_is_not_holmes(pem: PemClassifier) -> None:
    raw, res = read(pem, "running_heads.txt")
    view = normalised_view(raw)
    assert "Time: 16:54" not in view.text and "frontiersin.org" not in view.text
    assert "fulfilled the Canadian\nConsensus Criteria" in view.text
    assert res.label == "required", res.reason
    assert inclusion(res) == {"ccc_2003"}
    assert all(u.role == "background" for u in res.definitions if u.id == "holmes_1988")
    ccc = next(u for u in res.definitions if u.id == "ccc_2003")
    assert "Time: 16:54" in ccc.evidence.text       # evidence is the text as read


def test_definition_published_after_the_study_began_is_background(
        pem: PemClassifier) -> None:
    _, res = read(pem, "postdating_definition.txt")
    assert res.label == "not_required", res.reason  # Fukuda only; SEID came later
    assert inclusion(res) == {"fukuda_1994"}


def test_n_of_the_patients_is_a_subgroup(pem: PemClassifier) -> None:
    _, res = read(pem, "subgroup_n_of_the.txt")
    assert res.label == "mixed", res.reason
    assert {u.role for u in res.definitions if u.id == "ccc_2003"} == {"subgroup"}


def test_no_evidence_no_claim(pem: PemClassifier) -> None:
    _, res = read(pem, "no_definition.txt")
    assert res.label == "unclear", res.reason
    assert not inclusion(res)


def test_own_participants_rules() -> None:
    assert article_type("Journal\nREVIEW\nOPEN ACCESS\nTitle") == "review"
    assert article_type("TYPE Hypothesis and Theory\nTitle") == "hypothesis and theory"
    assert article_type("ORIGINAL RESEARCH published: 05 February 2019") == \
        "original research"
    ev = own_participants("Methods. We recruited 30 patients and 30 controls.", "", "", True)
    assert ev.verdict is True
    # a sentence describing a cited study does not make the paper a cohort
    ev = own_participants("Methods. A total of 20 patients were recruited [12].", "", "", True)
    assert ev.verdict is None
    ev = own_participants("", "Cells were cultured.", "Review\nTitle", False)
    assert ev.verdict is False
    ev = own_participants("Methods. 30 patients were enrolled.", "", "", True,
                          has_results=False)      # topic headings of a review, not IMRaD
    assert ev.verdict is not True


def test_jats_review_article_type_is_not_applicable(pem: PemClassifier) -> None:
    from classifiers.document import from_jats

    xml = b"""<?xml version="1.0"?>
<article article-type="review-article"><front><article-meta>
<article-id pub-id-type="pmc">9000009</article-id></article-meta></front>
<body><sec><title>Background</title>
<p>Synthetic test text. In one study, 40 patients who met the Canadian Consensus Criteria
were recruited and showed lower NK cell function.</p></sec>
<sec><title>Conclusions</title><p>More studies are needed.</p></sec></body></article>"""
    doc = from_jats(xml)
    assert doc is not None and doc.article_type == "review-article"
    res = classify_with_fulltext(pem, {"title": "", "abstract": ""}, doc, cohort=None)
    assert res.label == "not_applicable", res.reason
    assert "review" in res.reason
