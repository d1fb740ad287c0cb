"""Case-definition and PEM-status extractor (classifiers/pem.py).

Sentences below are written for these tests; the demo records are the project's synthetic
PubMed set (data/demo), and the 116 real abstracts come from the shared data directory.
"""

from __future__ import annotations

import csv
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from classifiers.pem import (
    Definition,
    DefinitionUse,
    PemClassifier,
    PemResult,
    split_sentences,
)
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "v0.1.toml"
DEMO_XML = REPO / "data" / "demo" / "pubmed_demo.xml"
DEMO_LABELS = REPO / "data" / "demo" / "labels.csv"
REAL_RECORDS = REPO.parent / "shared" / "data" / "mecfs_records" / "openmecfs_union_records.jsonl"

EXPECTED_IDS = (
    "holmes_1988", "oxford_1991", "fukuda_1994", "london_1994", "reeves_2005", "ccc_2003",
    "pediatric_2006", "nice_2007", "ccc_revised_2010", "icc_2011", "iom_2015", "nice_2021",
    "ramsay",
)
EXPECTED_PEM = {
    "holmes_1988": "optional", "oxford_1991": "absent", "fukuda_1994": "optional",
    "london_1994": "required", "reeves_2005": "optional", "ccc_2003": "required",
    "pediatric_2006": "required", "nice_2007": "weak", "ccc_revised_2010": "required",
    "icc_2011": "required", "iom_2015": "required", "nice_2021": "required", "ramsay": "required",
}


# --- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def policy() -> dict:
    with POLICY.open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def definitions(policy: dict) -> list[Definition]:
    return [Definition(**{**d, "patterns": tuple(d["patterns"]),
                          "ambiguous": tuple(d.get("ambiguous", ()))})
            for d in policy["case_definitions"]]


@pytest.fixture(scope="module")
def clf(definitions: list[Definition], policy: dict) -> PemClassifier:
    return PemClassifier(definitions, weak_as=policy["pem"]["weak_as"],
                         auto_confidence=policy["pem"]["auto_confidence"])


def check_evidence(result: PemResult, texts: Mapping[str, str]) -> None:
    """Every span is exact; labels that claim something carry inclusion / subgroup evidence."""
    for u in result.definitions:
        ev = u.evidence
        assert texts[ev.source][ev.start:ev.end] == ev.text, u
        assert ev.text
    roles = {u.role for u in result.definitions}
    if result.label in ("required", "not_required"):
        assert "inclusion" in roles, result
    if result.label == "mixed":
        assert roles & {"inclusion", "subgroup"}, result
    if result.label == "not_applicable":
        assert roles <= {"background"}, result
    keys = [(_source_rank(u.evidence.source), u.evidence.start) for u in result.definitions]
    assert keys == sorted(keys)
    assert 0.0 <= result.confidence <= 1.0
    assert result.route in ("auto", "review")
    assert result.reason and result.reason.endswith(".")


def _source_rank(source: str) -> int:
    return {"title": 0, "abstract": 1, "fulltext": 2}.get(source, 3)


def run(clf: PemClassifier, abstract: str, *, cohort: bool | None = True,
        title: str = "A study.") -> PemResult:
    texts = {"title": title, "abstract": abstract}
    result = clf.classify(texts, cohort=cohort)
    check_evidence(result, texts)
    return result


def ids(result: PemResult, role: str | None = None) -> set[str]:
    return {u.id for u in result.definitions if role is None or u.role == role}


# --- the policy file --------------------------------------------------------------------------

def test_policy_has_every_definition_with_its_pem_status(policy: dict) -> None:
    defs = policy["case_definitions"]
    assert tuple(d["id"] for d in defs) == EXPECTED_IDS
    for d in defs:
        assert d["pem"] == EXPECTED_PEM[d["id"]], d["id"]
        assert d["name"] and d["patterns"], d["id"]
        assert set(d) <= {"id", "name", "pem", "patterns", "ambiguous"}
    assert policy["pem"]["weak_as"] == "not_required"
    assert policy["pem"]["auto_confidence"] == 0.75


def test_policy_other_sections_untouched(policy: dict) -> None:
    assert policy["id"] == "mecfs-pem" and policy["version"] == "v0.1"
    assert "query" in policy["search"]


# --- surface forms of every definition --------------------------------------------------------

SURFACE_FORMS = [
    # Fukuda
    ("fukuda_1994", "the Fukuda criteria"),
    ("fukuda_1994", "Fukuda et al. (1994)"),
    ("fukuda_1994", "the Fukada criteria"),
    ("fukuda_1994", "the 1994 CDC criteria"),
    ("fukuda_1994", "the CDC-1994 criteria"),
    ("fukuda_1994", "the Centers for Disease Control and Prevention (CDC) 1994 criteria"),
    ("fukuda_1994", "the 1994 International case definition"),
    ("fukuda_1994", "the revised CDC criteria"),
    ("fukuda_1994", "the 1994 CDC/Fukuda definition"),
    ("fukuda_1994", "the 1994 CFS case definition"),
    # Holmes
    ("holmes_1988", "the 1988 CDC criteria"),
    ("holmes_1988", "the CDC-1988 criteria"),
    ("holmes_1988", "the Holmes criteria"),
    ("holmes_1988", "the working case definition of Holmes et al."),
    ("holmes_1988", "Holmes et al. (1988)"),
    # Oxford
    ("oxford_1991", "the Oxford criteria"),
    ("oxford_1991", "the Oxford case definition"),
    ("oxford_1991", "Sharpe et al. (1991)"),
    # London
    ("london_1994", "the London criteria"),
    ("london_1994", "the London case definition for ME"),
    # Reeves
    ("reeves_2005", "the empirical case definition"),
    ("reeves_2005", "the Reeves criteria"),
    ("reeves_2005", "the 2005 CDC empirical case definition"),
    # CCC
    ("ccc_2003", "the Canadian Consensus Criteria"),
    ("ccc_2003", "the Canadian criteria"),
    ("ccc_2003", "the Canadian clinical case definition"),
    ("ccc_2003", "the Canadian Clinical Criteria"),
    ("ccc_2003", "Carruthers et al. (2003)"),
    ("ccc_2003", "the CCC"),
    # Pediatric
    ("pediatric_2006", "the 2006 pediatric case definition"),
    ("pediatric_2006", "the paediatric case definition of Jason et al. (2006)"),
    # NICE 2007
    ("nice_2007", "the NICE 2007 criteria"),
    ("nice_2007", "NICE CG53"),
    ("nice_2007", "the NICE (2007) guideline criteria"),
    # Revised Canadian
    ("ccc_revised_2010", "the revised Canadian Consensus Criteria"),
    ("ccc_revised_2010", "the revised Canadian case definition (Jason et al., 2010)"),
    # ICC
    ("icc_2011", "the International Consensus Criteria"),
    ("icc_2011", "the ME-ICC"),
    ("icc_2011", "the ICC for ME"),
    ("icc_2011", "Carruthers et al. (2011)"),
    ("icc_2011", "the ICC"),
    # IOM
    ("iom_2015", "the Institute of Medicine criteria"),
    ("iom_2015", "the National Academy of Medicine criteria"),
    ("iom_2015", "the IOM 2015 criteria"),
    ("iom_2015", "the IOM criteria"),
    ("iom_2015", "the criteria for systemic exertion intolerance disease"),
    ("iom_2015", "the SEID criteria"),
    ("iom_2015", "SEID"),
    # NICE 2021
    ("nice_2021", "the NICE 2021 criteria"),
    ("nice_2021", "NG206"),
    ("nice_2021", "the NICE guideline NG206"),
    # Ramsay
    ("ramsay", "Ramsay"),
    ("ramsay", "the Ramsay criteria"),
    ("ramsay", "Ramsay's definition of myalgic encephalomyelitis"),
]


@pytest.mark.parametrize(("def_id", "form"), SURFACE_FORMS)
def test_surface_form_in_inclusion_sentence(clf: PemClassifier, def_id: str, form: str) -> None:
    text = f"We recruited 40 patients who met {form} and 30 healthy controls."
    r = run(clf, text)
    assert ids(r, "inclusion") == {def_id}, r
    use = next(u for u in r.definitions if u.role == "inclusion")
    assert use.pem == EXPECTED_PEM[def_id]
    assert form.removeprefix("the ").split()[0].lower() in use.evidence.text.lower()
    expected = {"required": "required", "weak": "not_required"}.get(
        EXPECTED_PEM[def_id], "not_required")
    assert r.label == expected


@pytest.mark.parametrize("form", [
    "fulfilling the Canadian Consensus Criteria",
    "meeting the Canadian Consensus Criteria",
    "who met the Canadian Consensus Criteria",
    "diagnosed according to the Canadian Consensus Criteria",
    "diagnosed by the Canadian Consensus Criteria",
    "diagnosed using the Canadian Consensus Criteria",
    "selected using the Canadian Consensus Criteria",
    "who satisfied the Canadian Consensus Criteria",
])
def test_inclusion_cues_with_participants(clf: PemClassifier, form: str) -> None:
    r = run(clf, f"Fifty adults {form} were studied.")
    assert r.label == "required"
    assert r.route == "auto" and r.confidence >= 0.85
    assert ids(r, "inclusion") == {"ccc_2003"}


@pytest.mark.parametrize("sentence", [
    "Inclusion criteria were age 18 to 65 years and a diagnosis according to the Canadian "
    "Consensus Criteria.",
    "Participants were included if they fulfilled the Canadian Consensus Criteria.",
    "Participants met the Canadian Consensus Criteria.",
    "Patients were recruited from two clinics according to the Canadian Consensus Criteria.",
    "The Canadian Consensus Criteria were used as inclusion criteria.",
    "Participants with ME/CFS (Canadian Consensus Criteria; n = 84) and 71 controls completed "
    "two exercise tests.",
    "Subjects will be eligible to participate if they meet the Canadian Consensus Criteria.",
    "Diagnosis of ME/CFS was based on the Canadian Consensus Criteria.",
])
def test_other_inclusion_wordings(clf: PemClassifier, sentence: str) -> None:
    r = run(clf, sentence)
    assert r.label == "required", r
    assert ids(r, "inclusion") == {"ccc_2003"}


# --- combinators ------------------------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "label"), [
    # all met both -> PEM required
    ("All patients fulfilled both the Fukuda criteria and the Canadian Consensus Criteria.",
     "required"),
    ("Patients met the Fukuda and Canadian criteria.", "required"),
    ("Patients met the Fukuda criteria, the CCC and the IOM criteria.", "required"),
    # unions
    ("We studied 58 adults fulfilling either the Fukuda or the Canadian Consensus Criteria.",
     "mixed"),
    ("Participants had met at least one of the Fukuda, Canadian Consensus (CCC) or Institute of "
     "Medicine (IOM) criteria.", "mixed"),
    ("Patients met the Fukuda and/or the Canadian Consensus Criteria.", "mixed"),
    ("Patients met the Fukuda criteria or the ICC.", "mixed"),
    # unions in which every path requires PEM
    ("Patients who met the Canadian Consensus Criteria or the IOM criteria were recruited.",
     "required"),
    ("Participants met the Canadian Consensus Criteria (CCC) and/or the International Consensus "
     "Criteria (ICC).", "required"),
    ("Patients met the CCC/ICC criteria.", "required"),
    # unions in which no path requires PEM
    ("Patients fulfilling the Oxford or the Fukuda criteria were enrolled.", "not_required"),
    ("Patients met the Holmes or the Fukuda criteria.", "not_required"),
    # several cohorts
    ("We sequenced a discovery cohort of 96 patients who met the Fukuda criteria and 80 "
     "controls, and a replication cohort of 74 patients who met the Canadian Consensus Criteria "
     "and 70 controls.", "mixed"),
    ("A first cohort of 50 patients met the CCC; a second cohort of 40 patients met the IOM "
     "criteria.", "required"),
])
def test_and_or_either_both_at_least_one(clf: PemClassifier, sentence: str, label: str) -> None:
    r = run(clf, sentence)
    assert r.label == label, r


@pytest.mark.parametrize("sentence", [
    "We included 33 patients who fulfilled the Fukuda criteria with the additional requirement "
    "of post-exertional malaise lasting 24 hours or longer.",
    "Patients met the Fukuda criteria plus post-exertional malaise.",
    "Patients met the Fukuda criteria and had post-exertional malaise.",
    "Participants fulfilled the 1994 CDC criteria and reported PEM.",
    "Patients met the Oxford criteria, additionally requiring post-exertional malaise.",
])
def test_pem_as_explicit_extra_requirement(clf: PemClassifier, sentence: str) -> None:
    r = run(clf, sentence)
    assert r.label == "required", r
    assert ids(r, "inclusion") <= {"fukuda_1994", "oxford_1991"}
    assert "PEM" in r.reason


def test_pem_requirement_in_its_own_sentence(clf: PemClassifier) -> None:
    r = run(clf, "Patients met the Fukuda criteria. Post-exertional malaise was required for "
            "inclusion.")
    assert r.label == "required"
    r = run(clf, "Patients met the Fukuda criteria or the CCC. All participants were required "
            "to have post-exertional malaise.")
    assert r.label == "required"


@pytest.mark.parametrize("sentence", [
    "Patients met the Fukuda criteria; post-exertional malaise was not required.",
    "Patients met the Fukuda criteria. Post-exertional malaise scores were higher in patients.",
    "Patients met the Fukuda criteria. Future studies should use definitions that require PEM.",
    "Patients met the Fukuda criteria and healthy controls did not report post-exertional "
    "malaise.",
])
def test_pem_mentioned_but_not_required(clf: PemClassifier, sentence: str) -> None:
    assert run(clf, sentence).label == "not_required"


def test_subgroup_of_whom_also_met(clf: PemClassifier) -> None:
    r = run(clf, "We examined 45 patients diagnosed by the CDC-1994 criteria, of whom 26 also met "
            "the Canadian Consensus Criteria, and 30 healthy controls.")
    assert r.label == "mixed"
    assert ids(r, "inclusion") == {"fukuda_1994"}
    assert ids(r, "subgroup") == {"ccc_2003"}
    assert "subgroup" in r.reason


@pytest.mark.parametrize("sentence", [
    "Sixty patients met the Fukuda criteria. A subset also met the Canadian Consensus Criteria.",
    "Sixty patients met the Fukuda criteria (n = 60), of whom most also met the IOM criteria "
    "(n = 41).",
    "Patients met the Fukuda criteria and n = 20 also fulfilled the International Consensus "
    "Criteria.",
    "Patients met the Oxford criteria; among them, 12 also met the London criteria.",
])
def test_subgroup_cues(clf: PemClassifier, sentence: str) -> None:
    r = run(clf, sentence)
    assert r.label == "mixed", r
    assert ids(r, "subgroup")


def test_subgroup_without_pem_keeps_not_required(clf: PemClassifier) -> None:
    r = run(clf, "Patients met the Oxford criteria, of whom 30 also met the Fukuda criteria.")
    assert r.label == "not_required"


def test_subgroup_of_pem_cohort_keeps_required(clf: PemClassifier) -> None:
    r = run(clf, "Patients met the CCC, of whom 20 also met the International Consensus "
            "Criteria.")
    assert r.label == "required"


def test_subgroup_only_is_mixed_for_review(clf: PemClassifier) -> None:
    r = run(clf, "We studied 45 patients with post-COVID syndrome diagnosed according to WHO "
            "criteria, including 26 who also met the Canadian Consensus Criteria.")
    assert r.label == "mixed"
    assert r.route == "review"


def test_comparison_of_patient_groups_is_subgroup(clf: PemClassifier) -> None:
    r = run(clf, "Adults fulfilling either the Fukuda or the Canadian Consensus Criteria were "
            "studied. Findings did not differ between patients who met only the Fukuda criteria "
            "and those who met the Canadian criteria.")
    assert r.label == "mixed"
    assert {u.role for u in r.definitions if u.evidence.start > 80} == {"subgroup"}


@pytest.mark.parametrize(("sentence", "label", "found"), [
    ("We also recruited 40 patients who met the Canadian Consensus Criteria.", "required",
     {"ccc_2003"}),
    ("Patients (70% women) who met the International Consensus Criteria were recruited.",
     "required", {"icc_2011"}),
    ("Canadian patients who met the Fukuda criteria were recruited in Toronto.", "not_required",
     {"fukuda_1994"}),
    ("Patients from London who met the Canadian Consensus Criteria were seen at the Oxford "
     "clinic.", "required", {"ccc_2003"}),
    ("The study was funded by the CDC and enrolled patients who met the Fukuda criteria.",
     "not_required", {"fukuda_1994"}),
    ("Patients were diagnosed by physicians at the Institute of Medicine of the University.",
     "unclear", set()),
    ("Patients fulfilled the CDC Symptom Inventory thresholds.", "unclear", set()),
    ("Participants met the Fukuda (1994), Canadian (2003) and International (2011) criteria.",
     "required", {"fukuda_1994", "ccc_2003", "icc_2011"}),
    ("Over half of the patients (52.7%) met the Fukuda criteria for ME/CFS.", "unclear",
     {"fukuda_1994"}),
    ("Patients meeting both the Fukuda and ICC criteria (n = 30) were compared with patients "
     "meeting only the Fukuda criteria (n = 25).", "mixed", {"fukuda_1994", "icc_2011"}),
    ("Patients met the Fukuda criteria. Post-exertional malaise is required by the Canadian "
     "Consensus Criteria.", "not_required", {"fukuda_1994", "ccc_2003"}),
    ("Post-exertional malaise is required by the Canadian Consensus Criteria.", "unclear",
     {"ccc_2003"}),
])
def test_regressions(clf: PemClassifier, sentence: str, label: str, found: set[str]) -> None:
    r = run(clf, sentence)
    assert r.label == label, r
    assert ids(r) == found


# --- traps: acronym collisions ----------------------------------------------------------------

@pytest.mark.parametrize("sentence", [
    "Test-retest reliability was excellent (ICC = 0.84, 95% CI 0.74-0.90).",
    "Reliability was assessed with the ICC(2,1) in 40 patients who met the study criteria.",
    "We used the intraclass correlation coefficient (ICC) in patients who met criteria; the ICC "
    "was 0.91.",
    "Agreement was high (ICC 0.93) in all patients.",
    "The ICCs for the subscales ranged from 0.84 to 0.90.",
    "Lin's concordance correlation coefficient (CCC) between devices was 0.88 in patients.",
    "Agreement between methods was good (CCC = 0.92).",
    "Patients with ME met the study entry requirements.",
    "The NAM was measured in patients who met the inclusion criteria.",
    "Patients with Ramsay Hunt syndrome were included.",
])
def test_acronym_collisions_are_not_definitions(clf: PemClassifier, sentence: str) -> None:
    r = run(clf, sentence)
    assert r.definitions == ()
    assert r.label == "unclear"


def test_icc_criteria_and_icc_statistic_in_one_abstract(clf: PemClassifier) -> None:
    r = run(clf, "We recruited 56 patients who met the International Consensus Criteria (ICC) "
            "for ME. Test-retest reliability was good (ICC = 0.84, 95% CI 0.74-0.90), whereas "
            "the reliability of peak values was lower (ICC = 0.63).")
    assert r.label == "required"
    assert all("0.84" not in u.evidence.text for u in r.definitions)
    assert [u.evidence.text for u in r.definitions] == [
        "met the International Consensus Criteria (ICC"]


def test_bare_icc_defined_as_statistic_is_rejected(clf: PemClassifier) -> None:
    r = run(clf, "Reliability was estimated with the intraclass correlation coefficient (ICC). "
            "Patients who met the ICC threshold were classified as reliable raters.")
    assert r.label == "unclear" and not r.definitions


def test_bare_cdc_criteria_needs_context_and_lowers_confidence(clf: PemClassifier) -> None:
    r = run(clf, "Patients fulfilling the CDC criteria for CFS were enrolled.")
    assert r.label == "not_required"
    assert ids(r, "inclusion") == {"fukuda_1994"}
    assert r.confidence < 0.75 and r.route == "review"
    strong = run(clf, "Patients fulfilling the 1994 CDC criteria for CFS were enrolled.")
    assert strong.confidence > r.confidence and strong.route == "auto"
    # without any use wording the bare form is not evidence at all
    none = run(clf, "The CDC criteria have been criticised for their breadth.")
    assert none.definitions == () and none.label == "unclear" and none.route == "review"


def test_1988_cdc_is_holmes_not_fukuda(clf: PemClassifier) -> None:
    r = run(clf, "Patients who met the 1988 CDC criteria were studied.")
    assert ids(r) == {"holmes_1988"} and r.label == "not_required"


def test_revised_canadian_is_not_ccc_2003(clf: PemClassifier) -> None:
    r = run(clf, "Patients met the revised Canadian Consensus Criteria.")
    assert ids(r) == {"ccc_revised_2010"}


def test_canadian_clinical_working_case_definition_is_ccc(clf: PemClassifier) -> None:
    r = run(clf, "Patients met the Canadian clinical working case definition.")
    assert ids(r) == {"ccc_2003"}


def test_nice_bare_is_lower_confidence(clf: PemClassifier) -> None:
    r = run(clf, "Patients were diagnosed according to NICE criteria.")
    assert ids(r, "inclusion") == {"nice_2007"} and r.route == "review"
    assert run(clf, "It was a nice day for patients who met criteria.").definitions == ()


# --- traps: background mentions ---------------------------------------------------------------

@pytest.mark.parametrize("sentence", [
    "Several case definitions exist, such as the Fukuda criteria, the CCC and the ICC.",
    "Diagnosis is based on international consensus criteria, most of which now require "
    "post-exertional malaise.",
    "The Fukuda criteria list post-exertional malaise as one of eight optional symptoms.",
    "By contrast, the Canadian Consensus Criteria and the 2015 Institute of Medicine criteria "
    "require it.",
    "The International Consensus Criteria were developed by an international panel in 2011.",
    "We compared the Fukuda, Canadian and IOM case definitions.",
    "Previous studies used the Oxford criteria.",
    "The proportion of participants meeting the IOM criteria was the main outcome.",
    "Between 13% and 45% of people with long COVID meet the National Academy of Medicine "
    "criteria for ME/CFS.",
    "The Fukuda criteria are the most widely used case definition.",
    "Healthy controls did not meet the Canadian Consensus Criteria.",
    "Patients meeting the Oxford criteria were excluded.",
])
def test_background_mentions(clf: PemClassifier, sentence: str) -> None:
    r = run(clf, sentence)
    assert r.label == "unclear", r
    assert r.definitions and {u.role for u in r.definitions} == {"background"}
    assert r.route == "review"          # definitions named: a person should look


def test_background_and_inclusion_in_one_abstract(clf: PemClassifier) -> None:
    r = run(clf, "Several case definitions exist, such as the Fukuda criteria. We recruited "
            "30 patients who met the International Consensus Criteria.")
    assert r.label == "required"
    assert ids(r, "background") == {"fukuda_1994"} and ids(r, "inclusion") == {"icc_2011"}


def test_review_is_not_applicable_and_keeps_background(clf: PemClassifier) -> None:
    text = ("In this narrative review we summarise mitochondrial findings. Diagnosis is based on "
            "the Canadian Consensus Criteria or the International Consensus Criteria.")
    r = run(clf, text, cohort=False)
    assert r.label == "not_applicable" and r.route == "auto"
    assert ids(r) == {"ccc_2003", "icc_2011"} and ids(r, "background") == ids(r)
    # with cohort unknown the text itself says "review"
    assert run(clf, text, cohort=None).label == "not_applicable"
    # asked to decide as a cohort paper, the background mentions never make it "required"
    assert run(clf, text, cohort=True).label == "unclear"


def test_cohort_false_overrides_inclusion_wording(clf: PemClassifier) -> None:
    r = run(clf, "We recruited 40 patients who met the Canadian Consensus Criteria.", cohort=False)
    assert r.label == "not_applicable"
    assert [u.role for u in r.definitions] == ["background"]


def test_no_definition_is_unclear_and_auto(clf: PemClassifier) -> None:
    r = run(clf, "We collected serum from 47 individuals with ME/CFS and 45 healthy controls. "
            "Post-exertional malaise was common.")
    assert r.label == "unclear" and r.definitions == ()
    assert r.route == "auto" and r.confidence >= 0.75


def test_pem_required_without_definition_is_unclear_for_review(clf: PemClassifier) -> None:
    r = run(clf, "We included 40 patients with ME/CFS; post-exertional malaise was required "
            "for inclusion.")
    assert r.label == "unclear" and r.route == "review"


# --- weak definitions and policy knobs --------------------------------------------------------

NICE_2007 = ("We followed 403 adults who were diagnosed with CFS/ME according to the NICE 2007 "
             "(CG53) criteria.")


@pytest.mark.parametrize(("weak_as", "label"), [
    ("not_required", "not_required"), ("required", "required"), ("mixed", "mixed"),
    ("unclear", "unclear")])
def test_weak_as(definitions: list[Definition], weak_as: str, label: str) -> None:
    c = PemClassifier(definitions, weak_as=weak_as)
    r = run(c, NICE_2007)
    assert r.label == label
    assert [(u.id, u.pem) for u in r.definitions] == [("nice_2007", "weak")]


def test_weak_with_required_definition_is_required(clf: PemClassifier) -> None:
    assert run(clf, "Patients met both the NICE 2007 criteria and the CCC.").label == "required"


def test_auto_confidence_threshold(definitions: list[Definition]) -> None:
    strict = PemClassifier(definitions, auto_confidence=0.95)
    r = run(strict, "We recruited 38 patients fulfilling the Canadian Consensus Criteria.")
    assert r.label == "required" and r.route == "review"
    loose = PemClassifier(definitions, auto_confidence=0.0)
    doubt = run(loose, "Several case definitions exist, such as the Fukuda criteria.")
    assert doubt.label == "unclear" and doubt.route == "review"   # doubt always goes to review


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"weak_as": "maybe"}, "weak_as"),
    ({"auto_confidence": 1.5}, "auto_confidence"),
])
def test_bad_knobs(definitions: list[Definition], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PemClassifier(definitions, **kwargs)


def test_bad_definitions() -> None:
    with pytest.raises(ValueError, match="pem"):
        PemClassifier([Definition("x", "X", "sometimes", ("x",))])
    with pytest.raises(ValueError, match="bad pattern"):
        PemClassifier([Definition("x", "X", "required", ("(unclosed",))])
    with pytest.raises(ValueError, match="duplicate"):
        PemClassifier([Definition("x", "X", "required", ("x",)),
                       Definition("x", "Y", "required", ("y",))])


# --- API details ------------------------------------------------------------------------------

def test_find_offsets_roles_and_order(clf: PemClassifier) -> None:
    text = ("Several case definitions exist, such as the Oxford criteria. Patients who met the "
            "Canadian Consensus Criteria (CCC) were recruited.")
    uses = clf.find(text, "abstract")
    assert [u.id for u in uses] == ["oxford_1991", "ccc_2003"]
    assert [u.role for u in uses] == ["background", "inclusion"]
    for u in uses:
        assert isinstance(u, DefinitionUse)
        assert u.evidence.source == "abstract"
        assert text[u.evidence.start:u.evidence.end] == u.evidence.text
    assert uses[1].evidence.text == "met the Canadian Consensus Criteria (CCC"
    assert uses[0].evidence.text == "Oxford criteria"


def test_title_and_abstract_offsets_and_source_order(clf: PemClassifier) -> None:
    texts = {"abstract": "Controls were healthy. Adults who met the Fukuda criteria were studied.",
             "title": "Sleep in adults meeting the International Consensus Criteria."}
    r = clf.classify(texts, cohort=True)
    check_evidence(r, texts)
    assert [u.evidence.source for u in r.definitions] == ["title", "abstract"]
    assert r.label == "mixed"


def test_fulltext_source_and_reference_list(clf: PemClassifier) -> None:
    fulltext = ("Methods\nPatients were diagnosed\naccording to the Canadian Consensus Criteria "
                "and were recruited\nfrom a clinic.\n\nReferences\n1. Fukuda K, et al. The "
                "chronic fatigue syndrome: patients who met criteria. Ann Intern Med 1994.\n")
    texts = {"title": "A study.", "abstract": "", "fulltext": fulltext}
    r = clf.classify(texts, cohort=True)
    check_evidence(r, texts)
    assert r.label == "required"
    assert ids(r, "inclusion") == {"ccc_2003"} and ids(r, "background") == {"fukuda_1994"}


def test_empty_and_missing_texts(clf: PemClassifier) -> None:
    r = clf.classify({"title": "", "abstract": ""}, cohort=True)
    assert r.label == "unclear" and r.definitions == ()
    assert clf.classify({}, cohort=False).label == "not_applicable"
    assert clf.find("", "abstract") == []


def test_deterministic(clf: PemClassifier) -> None:
    text = ("Participants had met at least one of the Fukuda, Canadian Consensus (CCC) or "
            "Institute of Medicine (IOM) criteria. Participants who met the CCC or IOM criteria "
            "had lower utility values than those who met the Fukuda criteria only.")
    first = run(clf, text)
    for _ in range(3):
        assert run(clf, text) == first
    assert first.label == "mixed"


@pytest.mark.parametrize(("text", "expected"), [
    ("Patients met criteria of Fukuda et al. (1994) and were studied. Next sentence.",
     ["Patients met criteria of Fukuda et al. (1994) and were studied.", "Next sentence."]),
    ("Values e.g. 0.84 vs. 0.91 were found. The end.",
     ["Values e.g. 0.84 vs. 0.91 were found.", "The end."]),
    ("BACKGROUND: One.\nMETHODS: Two i.e. three. Four (p = 0.01). Five.",
     ["BACKGROUND: One.", "METHODS: Two i.e. three.", "Four (p = 0.01).", "Five."]),
    ("A line broken\nmid sentence. Next.", ["A line broken\nmid sentence.", "Next."]),
    ("Heading\n\nBody text.", ["Heading", "Body text."]),
    ("  ", []),
])
def test_split_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == expected


# --- demo records (data/demo) -----------------------------------------------------------------

def _demo_cases() -> list[tuple[str, str, str, bool]]:
    with DEMO_LABELS.open(newline="", encoding="utf-8") as fh:
        labels = {r["pmid"]: r for r in csv.DictReader(fh)}
    out = []
    for rec in iter_pubmed_xml(DEMO_XML):
        if not isinstance(rec, ParsedRecord):
            continue
        lab = labels[rec.pmid]
        cohort = lab["human_participants"] == "true" and lab["relevance"] == "mecfs"
        out.append((rec.pmid, rec.title or "", rec.abstract or "", cohort))
    assert len(out) == len(labels)
    return out


def test_demo_set_labels(clf: PemClassifier) -> None:
    with DEMO_LABELS.open(newline="", encoding="utf-8") as fh:
        expected = {r["pmid"]: r["pem"] for r in csv.DictReader(fh)}
    wrong = {}
    for pmid, title, abstract, cohort in _demo_cases():
        texts = {"title": title, "abstract": abstract}
        r = clf.classify(texts, cohort=cohort)
        check_evidence(r, texts)
        if r.label != expected[pmid]:
            wrong[pmid] = (expected[pmid], r.label, r.reason)
    assert not wrong


@pytest.mark.parametrize(("pmid", "inclusion", "subgroup"), [
    ("99000001", {"ccc_2003"}, set()),
    ("99000006", {"fukuda_1994"}, set()),
    ("99000013", {"fukuda_1994", "ccc_2003"}, {"fukuda_1994", "ccc_2003"}),
    ("99000016", {"nice_2007"}, set()),
    ("99000018", {"fukuda_1994"}, {"ccc_2003", "fukuda_1994"}),
    ("99000022", {"fukuda_1994"}, set()),
    ("99000027", {"icc_2011"}, set()),
    ("99000030", {"fukuda_1994", "ccc_2003", "iom_2015"}, {"fukuda_1994", "ccc_2003", "iom_2015"}),
    ("99000031", {"fukuda_1994", "ccc_2003"}, set()),
])
def test_demo_definitions(clf: PemClassifier, pmid: str, inclusion: set[str],
                          subgroup: set[str]) -> None:
    case = next(c for c in _demo_cases() if c[0] == pmid)
    r = run(clf, case[2], title=case[1], cohort=case[3])
    assert ids(r, "inclusion") == inclusion
    assert ids(r, "subgroup") == subgroup


def test_demo_collisions_find_nothing(clf: PemClassifier) -> None:
    """ICC statistics (MS fatigue scale), CFS = frailty / supernatant / cramps: no definitions."""
    for pmid, title, abstract, _ in _demo_cases():
        if pmid in {"99000004", "99000008", "99000012", "99000023"}:
            r = clf.classify({"title": title, "abstract": abstract}, cohort=True)
            assert r.definitions == () and r.label == "unclear", pmid


# --- 116 real ME/CFS abstracts (shared data) --------------------------------------------------

# Checked by reading each abstract:
# 40978825 long COVID cohort screened for ME/CFS: "ME/CFS diagnosis was based on the International
#   Consensus Criteria (ICC)": every ME/CFS participant met a PEM-requiring definition ->
#   required, but the paper reports ME/CFS prevalence (the definition classifies an outcome), so
#   it goes to review.
# 40986167 scoping review: "Diagnosis is based on international consensus criteria" is
#   background -> not_applicable with cohort=False, unclear (never required) with cohort=True.
# 41050647 "45 female PCS patients diagnosed according to WHO criteria, including 26 who also met
#   the Canadian Consensus criteria" -> mixed (a CCC subgroup; review).
# 41101039 "patients who met CDC criteria of CFS (n = 1375), of whom most also met NICE/ IOM
#   criteria (n = 1072)" -> mixed (Fukuda via bare "CDC criteria", IOM subgroup).
REAL_NAMED = {
    "40978825": ("required", {"icc_2011"}),
    "40986167": ("unclear", set()),
    "41050647": ("mixed", set()),
    "41101039": ("mixed", {"fukuda_1994"}),
}


@pytest.fixture(scope="module")
def real_records() -> list[dict]:
    if not REAL_RECORDS.is_file():
        reason = f"shared ME/CFS records not found at {REAL_RECORDS}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)
    with REAL_RECORDS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _texts(rec: dict) -> dict[str, str]:
    return {"title": rec.get("title") or "", "abstract": rec.get("abstract") or ""}


def test_real_records_without_definition_are_unclear(clf: PemClassifier,
                                                     real_records: list[dict]) -> None:
    assert len(real_records) == 116
    others = [r for r in real_records if r["pmid"] not in REAL_NAMED]
    assert len(others) == 112
    wrong = {}
    for rec in others:
        texts = _texts(rec)
        r = clf.classify(texts, cohort=True)
        check_evidence(r, texts)
        if r.label != "unclear" or any(u.role != "background" for u in r.definitions):
            wrong[rec["pmid"]] = (r.label, r.reason)
    assert not wrong


@pytest.mark.parametrize("pmid", sorted(REAL_NAMED))
def test_real_records_naming_a_definition(clf: PemClassifier, real_records: list[dict],
                                          pmid: str) -> None:
    rec = next(r for r in real_records if r["pmid"] == pmid)
    texts = _texts(rec)
    r = clf.classify(texts, cohort=True)
    check_evidence(r, texts)
    label, inclusion = REAL_NAMED[pmid]
    assert r.label == label, r
    assert ids(r, "inclusion") == inclusion
    if label == "mixed":
        assert ids(r, "subgroup") & {"ccc_2003", "iom_2015"}
        assert r.route == "review"


def test_real_review_background_mention(clf: PemClassifier, real_records: list[dict]) -> None:
    rec = next(r for r in real_records if r["pmid"] == "40986167")
    texts = _texts(rec)
    na = clf.classify(texts, cohort=False)
    assert na.label == "not_applicable"
    assert [(u.id, u.role, u.evidence.text) for u in na.definitions] == [
        ("icc_2011", "background", "international consensus criteria")]
    as_cohort = clf.classify(texts, cohort=True)
    assert as_cohort.label != "required" and as_cohort.label == "unclear"
    assert clf.classify(texts, cohort=None).label == "not_applicable"   # "scoping review"


def test_real_prevalence_study_goes_to_review(clf: PemClassifier,
                                              real_records: list[dict]) -> None:
    rec = next(r for r in real_records if r["pmid"] == "40978825")
    r = clf.classify(_texts(rec), cohort=True)
    assert r.label == "required" and r.route == "review"
    assert any("International Consensus Criteria" in u.evidence.text for u in r.definitions)


def test_literal_prefilter_never_changes_a_result(clf: PemClassifier,
                                                  definitions: list[Definition]) -> None:
    """The ``in`` prefilter only skips searches that could not match: same results."""
    import copy

    from classifiers.pem import _required_literal

    assert _required_literal(r"\bInternational\s+Consensus\s+Criteria\b") == "international"
    assert _required_literal(r"(?:Fukuda|CDC)\s+criteria") == "criteria"
    assert _required_literal(r"\b(?:CCC|ICC)\b") == ""
    plain = copy.copy(clf)
    plain._literals = [""] * len(clf._literals)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    texts: list[tuple[str, str]] = []
    union = shared / "mecfs_records" / "openmecfs_union_records.jsonl"
    if union.is_file():
        for line in union.open(encoding="utf-8"):
            d = json.loads(line)
            texts.append((d.get("title") or "", d.get("abstract") or ""))
    for rec in iter_pubmed_xml(REPO / "data" / "demo" / "pubmed_demo.xml"):
        texts.append((rec.title, rec.abstract))
    assert len(texts) >= 33
    for title, abstract in texts:
        t = {"title": title, "abstract": abstract}
        assert clf.classify(t, cohort=True) == plain.classify(t, cohort=True)


# --- role rules 2 (policy v0.4 [pem] rules = 2): the double negative --------------------------

DOUBLE_NEGATIVES = [
    ("Patients who did not fulfil the Canadian Consensus Criteria were excluded.",
     "required", {"ccc_2003"}),
    ("Post-COVID patients who did not meet the Canadian or International Consensus Criteria "
     "for ME/CFS were not included in the study.", "required", {"ccc_2003", "icc_2011"}),
    ("Patients were excluded if they did not meet the Fukuda criteria.", "not_required",
     {"fukuda_1994"}),
]


@pytest.mark.parametrize(("sentence", "label", "ids"), DOUBLE_NEGATIVES)
def test_rules_2_double_negative_is_inclusion(sentence: str, label: str, ids: set[str]) -> None:
    from classifiers.pipeline import policy_pem
    from classifiers.policy import load_policy

    texts = {"title": "A study in ME/CFS",
             "abstract": "Forty patients with ME/CFS and 30 controls took part. " + sentence}
    v4 = policy_pem(load_policy(POLICY.parent, "v0.4"))
    r = v4.classify(texts, cohort=True)
    assert r.label == label, r.reason
    assert {d.id for d in r.definitions if d.role == "inclusion"} == ids
    # rules 1 (v0.1-v0.3) read it as background, as they always did: immutable
    v3 = policy_pem(load_policy(POLICY.parent, "v0.3"))
    assert v3.classify(texts, cohort=True).label == "unclear"


@pytest.mark.parametrize("sentence", [
    "We excluded patients who met the Fukuda criteria.",
    "Patients meeting the Oxford criteria but not the CCC were excluded.",
    "Participants who did not meet the Canadian Consensus Criteria were included as "
    "a comparison group.",
])
def test_rules_2_exclusions_stay_background(sentence: str) -> None:
    from classifiers.pipeline import policy_pem
    from classifiers.policy import load_policy

    v4 = policy_pem(load_policy(POLICY.parent, "v0.4"))
    r = v4.classify({"title": "A study in ME/CFS", "abstract": sentence}, cohort=True)
    assert r.label == "unclear"
    assert all(d.role != "inclusion" for d in r.definitions)


def test_rules_version_checked() -> None:
    with pytest.raises(ValueError, match="rules must be 1 or 2"):
        PemClassifier([], rules=3)


@pytest.mark.parametrize(("sentence", "v4_label"), [
    ("DecodeME applied stringent clinical criteria (either Canadian Consensus Criteria 36 or "
     "National Academy of Medicine guidelines 37), and the Million Veteran's Program defined "
     "cases via PheCode 798.1.", "unclear"),
    ("Patients were recruited from the DecodeME cohort and met the Canadian Consensus "
     "Criteria.", "required"),
    ("All patients met the Canadian Consensus Criteria.", "required"),
])
def test_rules_2_another_named_studys_criteria_in_full_text(sentence: str,
                                                           v4_label: str) -> None:
    """Full text, rules 2: criteria another study (named by its acronym) applied describe
    that study, not the paper's participants; rules 1 (v0.3) read them as its own. A named
    cohort the participants came from stays theirs."""
    from classifiers.pipeline import policy_pem
    from classifiers.policy import load_policy

    texts = {"title": "Metabolic genetics of ME/CFS", "abstract": "",
             "fulltext": "Methods\nParticipants with ME/CFS were studied. " + sentence}
    v4 = policy_pem(load_policy(POLICY.parent, "v0.4"))
    assert v4.classify(texts, cohort=True, fulltext_rules=True).label == v4_label
    v3 = policy_pem(load_policy(POLICY.parent, "v0.3"))
    assert v3.classify(texts, cohort=True, fulltext_rules=True).label == "required"


@pytest.mark.parametrize(("sentence", "v4_label"), [
    ("We used the Canadian Consensus Criteria to select 40 patients with ME/CFS.",
     "required"),
    ("We used the International Consensus Criteria as an outcome at follow-up.", "unclear"),
    ("Most trials used the Oxford criteria to select participants.", "unclear"),
])
def test_rules_2_we_used_the_criteria(sentence: str, v4_label: str) -> None:
    """Rules 2: "we used X" (not as an outcome) is inclusion; rules 1 read it as
    background, and what others used stays background under both."""
    from classifiers.pipeline import policy_pem
    from classifiers.policy import load_policy

    texts = {"title": "A study of ME/CFS", "abstract": sentence}
    v4 = policy_pem(load_policy(POLICY.parent, "v0.4"))
    assert v4.classify(texts, cohort=True).label == v4_label
    v3 = policy_pem(load_policy(POLICY.parent, "v0.3"))
    assert v3.classify(texts, cohort=True).label == "unclear"
