"""Evidence drafts (scanner/drafts): spans exact, design-aware limitations, PEM quotes, citations.

Real data: the 33 demo records classified in process by the policy's classifier, and the
real PubMed records of ../shared/data (odd ones included: no abstract, collective authors,
a book) with classifications made from the design and term rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import glob
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from classifiers.policy import load_policy
from scanner.drafts import badge as badge_mod
from scanner.drafts.citation import bibtex_entry, citation_text, ris_entry
from scanner.drafts.content import FIELDS, PROSE_FIELDS, DraftContent, SourceSpan, verify_span
from scanner.drafts.extract import SMALL_SAMPLE, sample_size, sections
from scanner.drafts.generate import GENERATOR_VERSION, build_draft
from scanner.drafts.wording import check_wording
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "pubmed_demo.xml"
ACCESSED = dt.date(2026, 3, 1)


# --- shared helpers (test_wording and test_export import them) ------------------------------

def record_dict(rec: ParsedRecord) -> dict[str, Any]:
    """A record as the ``records`` table holds it (``to_dict`` plus ``is_retracted``)."""
    return {**rec.to_dict(), "is_retracted": rec.is_retracted}


@functools.cache
def definition_names() -> dict[str, str]:
    return {d.id: d.name for d in load_policy(REPO / "policies", "v0.1").case_definitions}


@functools.cache
def demo_cases() -> dict[str, tuple[dict[str, Any], dict[str, Any], DraftContent]]:
    """pmid -> (record, classification, draft) for the 33 demo records; built once."""
    from classifiers.paper import Paper
    from classifiers.pipeline import PaperClassifier

    parsed = [r for r in iter_pubmed_xml(DEMO) if isinstance(r, ParsedRecord)]
    classifier = PaperClassifier(load_policy(REPO / "policies", "v0.1"))
    results = classifier.classify([Paper.from_record(r) for r in parsed])
    out = {}
    for rec, cls in zip(parsed, results, strict=True):
        record = record_dict(rec)
        out[rec.pmid] = (record, cls, draft_of(record, cls))
    return out


def draft_of(record: Mapping[str, Any], cls: Mapping[str, Any]) -> DraftContent:
    return build_draft(record, cls, definition_names=definition_names(), accessed=ACCESSED,
                       content_hash="c0ffee" + str(record["pmid"]))


_ENTRY_RE = re.compile(r"@(\w+)\{([^,\s{}]+),")
_FIELD_RE = re.compile(r"\s*([A-Za-z][\w-]*)\s*=\s*\{")


def parse_bibtex(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """A strict little BibTeX reader: braced values only, braces must balance."""
    entries = []
    pos = 0
    while (at := text.find("@", pos)) != -1:
        m = _ENTRY_RE.match(text, at)
        assert m, text[at:at + 80]
        pos, fields = m.end(), {}
        while True:
            while text[pos] in " \n\t,":
                pos += 1
            if text[pos] == "}":
                pos += 1
                break
            f = _FIELD_RE.match(text, pos)
            assert f, text[pos:pos + 80]
            depth, k = 1, f.end()
            while depth:
                depth += (text[k] == "{") - (text[k] == "}")
                k += 1
            name = f.group(1).lower()
            assert name not in fields, f"duplicate field {name}"
            fields[name] = text[f.end():k - 1]
            pos = k
        entries.append((m.group(1), m.group(2), fields))
    return entries


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo() -> dict[str, tuple[dict[str, Any], dict[str, Any], DraftContent]]:
    return demo_cases()


def _sentences(draft: DraftContent, field: str) -> list[str]:
    return [s.text for s in draft.sentences if s.field == field]


def assert_traceable(record: Mapping[str, Any], draft: DraftContent) -> None:
    assert set(draft.fields) == set(FIELDS)
    for field in PROSE_FIELDS:
        texts = _sentences(draft, field)
        assert texts, f"{record['pmid']}: {field} is empty"
        assert draft.fields[field] == " ".join(texts)
    for sentence in draft.sentences:
        assert sentence.field in PROSE_FIELDS and sentence.rule
        assert sentence.spans, sentence
        for span in sentence.spans:
            if span.source in ("title", "abstract"):
                assert record[span.source][span.start:span.end] == span.text, span
            else:
                assert span.source == "record" and span.field in record, span
            assert verify_span(record, span), span
        for quote in re.findall(r"“([^”]*)”", sentence.text):
            assert any(quote in s.text for s in sentence.spans), (quote, sentence)


# --- the 33 demo records --------------------------------------------------------------------

def test_every_sentence_of_every_demo_draft_is_traceable(demo) -> None:
    assert len(demo) == 33
    for record, _, draft in demo.values():
        assert_traceable(record, draft)
        assert 2 <= len(_sentences(draft, "summary")) <= 5


def test_drafts_are_deterministic_and_round_trip(demo) -> None:
    for record, cls, draft in demo.values():
        again = draft_of(json.loads(json.dumps(record)), json.loads(json.dumps(cls)))
        assert again.to_json() == draft.to_json()
        as_json = json.loads(json.dumps(draft.to_json(), ensure_ascii=False))
        assert DraftContent.from_json(as_json) == draft
        assert DraftContent.from_json(as_json).to_json() == draft.to_json()


def test_stamps(demo) -> None:
    _, cls, draft = demo["99000001"]
    assert draft.stamps == {
        "generator": "scanner.drafts", "generator_version": GENERATOR_VERSION,
        "scanner_version": cls["scanner_version"], "policy_id": cls["policy"]["id"],
        "policy_version": "v0.1", "policy_sha256": cls["policy"]["sha256"],
        "accessed": "2026-03-01", "pmid": "99000001", "content_hash": "c0ffee99000001"}


def test_retracted_paper_carries_a_notice_and_says_so_first(demo) -> None:
    draft = demo["99000003"][2]
    assert draft.retraction is not None and draft.retraction["pmids"] == ["99000032"]
    assert draft.retraction["kind"] == "retraction"
    assert "retracted" in draft.retraction["notice"].lower()
    first = draft.sentences[0]
    assert first.field == "summary" and first.rule == "summary.retracted"
    assert draft.fields["summary"].startswith("This paper has been retracted")
    assert {(s.field, s.text) for s in first.spans} >= {
        ("comments_corrections", "99000032"), ("publication_types", "Retracted Publication")}
    assert "retracted" in draft.fields["limitations"]
    assert "Retraction in: PMID 99000032." in draft.fields["citation"]
    (_, _, fields), = parse_bibtex(draft.fields["bibtex"])
    assert "Retracted" in fields["note"]
    others = [p for p, (_, _, d) in demo.items() if d.retraction is not None]
    assert others == ["99000003"]


def test_expression_of_concern_is_a_notice_too(demo) -> None:
    record, cls, _ = demo["99000025"]
    record = {**record, "comments_corrections": [
        {"ref_type": "ExpressionOfConcernIn", "ref_source": "Some J. 2027;1:1.",
         "pmid": "99000099"}]}
    draft = draft_of(record, cls)
    assert draft.retraction is not None
    assert draft.retraction == {"kind": "expression_of_concern", "pmids": ["99000099"],
                                "notice": draft.retraction["notice"]}
    assert "expression of concern" in draft.fields["summary"].lower()
    assert_traceable(record, draft)


def test_design_specific_limitations(demo) -> None:
    lim = {p: d.fields["limitations"] for p, (_, _, d) in demo.items()}
    assert "laboratory study of cells or samples" in lim["99000012"]       # in vitro
    assert "laboratory study of cells or samples" in lim["99000017"]
    assert "associations" in lim["99000025"] and "cause and effect" in lim["99000025"]
    assert "It is a review" in lim["99000014"]
    assert "It is a commentary" in lim["99000033"]
    assert "not a randomised controlled trial" in lim["99000021"]
    assert "one trial" in lim["99000010"]
    assert "notice about another paper" in lim["99000029"]
    # no ME/CFS cohort: adjacent and unrelated papers
    for pmid in ("99000007", "99000024", "99000004"):
        assert "not selected as having ME/CFS" in lim[pmid]
    # PEM-dependent limits
    assert "does not require post-exertional malaise" in lim["99000009"]      # Fukuda
    assert "differ on PEM" in lim["99000013"]                                 # mixed
    assert "does not say which case definition" in lim["99000005"]            # unclear
    assert "post-exertional" not in lim["99000001"]                           # required


def test_small_sample_limitation_states_the_threshold(demo) -> None:
    assert SMALL_SAMPLE == 50
    draft = demo["99000021"][2]          # 46 participants
    (small,) = [s for s in draft.sentences if s.rule == "limitations.small_sample"]
    assert "46 participants" in small.text and f"under the {SMALL_SAMPLE}" in small.text
    assert [s.text for s in small.spans] == ["Forty-six participants"]
    for pmid in ("99000025", "99000010", "99000001", "99000030"):     # 147, 142, 68, 1,204
        assert not any(s.rule == "limitations.small_sample" for s in demo[pmid][2].sentences)


def test_animal_study_says_so() -> None:
    record = {"pmid": "1", "title": "Voluntary wheel running after viral infection in mice.",
              "abstract": "Mice were infected with a murine herpesvirus and their running "
                          "was recorded for eight weeks. Infected mice ran less.",
              "abstract_sections": [], "authors": [], "publication_types": ["Journal Article"],
              "mesh": [], "comments_corrections": [], "databanks": [], "is_retracted": False}
    cls = {"pmid": "1", "policy": {"id": "p", "version": "v", "sha256": "0" * 64},
           "relevance": {"label": "adjacent"}, "study": {"design": "animal",
                                                         "human_participants": False},
           "pem": {"label": "not_applicable", "definitions": []}}
    draft = draft_of(record, cls)
    assert_traceable(record, draft)
    (animal,) = [s for s in draft.sentences if s.rule == "limitations.design.animal"]
    assert "animal study" in animal.text and "may not hold in humans" in animal.text
    assert animal.spans[0].source == "title" and animal.spans[0].text == "mice"
    assert "An animal study" in draft.fields["summary"]
    assert draft.badge["label"] == "not_applicable"


def test_pem_field_quotes_the_evidence(demo) -> None:
    names = definition_names()
    for pmid, (_, cls, draft) in demo.items():
        assert draft.badge["label"] == cls["pem"]["label"]
        assert draft.badge["explanation"] == badge_mod.explanation(cls["pem"]["label"])
        assert draft.fields["pem"].startswith(badge_mod.EXPLANATIONS[cls["pem"]["label"]][0])
        used = [d for d in cls["pem"]["definitions"] if d["role"] in ("inclusion", "subgroup")]
        assert [(e["definition"], e["role"], e["text"]) for e in draft.badge["evidence"]] == [
            (d["id"], d["role"], d["evidence"]["text"]) for d in used]
        first = {(d["id"], d["role"]): d for d in reversed(used)}
        for use in first.values():
            quote = use["evidence"]["text"].rstrip(" .;,")
            assert f"“{quote}”" in draft.fields["pem"], pmid
            assert names[use["id"]] in draft.fields["pem"], pmid
    pem = {p: d.fields["pem"] for p, (_, _, d) in demo.items()}
    assert ("The participants were selected by Canadian Consensus Criteria 2003, which requires "
            "PEM: “fulfilling the Canadian Consensus Criteria (CCC”.") in pem["99000001"]
    assert ("which does not require PEM (it is one optional symptom): “according to Fukuda et al. "
            "(1994)”.") in pem["99000009"]
    assert ("PEM was added as an explicit requirement: “fulfilled the Fukuda criteria with the "
            "additional requirement of post-exertional malaise”.") in pem["99000022"]
    assert "named only as background" in demo["99000014"][2].fields["pem"]
    assert demo["99000001"][2].badge["title"] == "PEM required"


def test_summary_parts(demo) -> None:
    summary = {p: d.fields["summary"] for p, (_, _, d) in demo.items()}
    assert "An observational study of 147 participants (87 patients and 60 healthy controls)." \
        in summary["99000025"]
    assert "A randomised controlled trial of 142 randomised participants." in summary["99000010"]
    assert summary["99000010"].endswith("“Heart rate-guided pacing produced a small improvement "
                                        "in physical function and reduced symptom exacerbations”.")
    assert "Aim, in the authors' words: “We asked whether microRNAs" in summary["99000003"]
    assert "no abstract" in summary["99000032"]
    assert "A review, with no participants of its own." in summary["99000014"]


def test_relevance(demo) -> None:
    rel = {p: d.fields["relevance"] for p, (_, _, d) in demo.items()}
    assert rel["99000001"].startswith("The paper is about ME/CFS: its title names “myalgic "
                                      "encephalomyelitis”.")
    assert "ME/CFS cohort: 68 participants" in rel["99000001"]
    assert "adjacent to ME/CFS (“long COVID”)" in rel["99000024"]
    assert "“cell-free supernatant”" in rel["99000012"]
    assert "not relevant" in rel["99000019"]
    assert "no ME/CFS participants of its own: it is a review" in rel["99000014"]


def test_leads(demo) -> None:
    assert demo["99000010"][2].leads[0].startswith(
        "Trial registry NCT99012345 listed in the record's data banks (ClinicalTrials.gov)")
    assert any("GSE999001" in x for x in demo["99000031"][2].leads)
    assert "Erratum published: PMID 99000029" in demo["99000009"][2].leads


def test_citation_and_bibtex(demo) -> None:
    record, _, draft = demo["99000010"]
    assert draft.fields["citation"] == (
        "Whitcombe HM, Baptiste-Okoro L, Farrant I, Crombie A, Yilmaz-Hughes D. Heart "
        "rate-guided activity pacing with a wearable device versus usual care in myalgic "
        "encephalomyelitis/chronic fatigue syndrome: a randomised controlled trial. Clin Trials "
        "Chronic Illn. 2026;22(4):301-314. doi:10.5555/demo.ctci.2026.0301. PMID: 99000010. "
        "PMCID: PMC99100010.")
    for pmid, (record, _, draft) in demo.items():
        (kind, key, fields), = parse_bibtex(draft.fields["bibtex"])
        assert kind == "article" and key.endswith("_" + pmid)
        assert {"title", "pmid", "year"} <= set(fields)
        assert fields["pmid"] == pmid and fields.get("doi") == record["doi"]
        if record["authors"]:
            assert fields["author"].count(" and ") == len(record["authors"]) - 1
        if record["pmcid"]:
            assert record["pmcid"] in fields["note"]
    (_, _, fields), = parse_bibtex(demo["99000010"][2].fields["bibtex"])
    assert fields["author"].startswith("Whitcombe, Helen M and Baptiste-Okoro, Leon")
    assert fields["journal"] == "Clinical trials in chronic illness"
    assert fields["pages"] == "301--314"


def test_bibtex_escapes_special_characters() -> None:
    record = {"pmid": "5", "title": "50% of {odd} A&B_c $x$ #1 ~ ^ back\\slash",
              "authors": [{"last_name": "O'Brien", "fore_name": "Seán"},
                          {"collective_name": "ME & CFS Study Group and Friends"}],
              "journal": "J & Co", "pub_year": 2020, "doi": "10.1/a_b%c"}
    (_, key, fields), = parse_bibtex(bibtex_entry(record))
    assert key == "OBrien2020_5"
    assert fields["title"] == (
        r"{50\% of \textbraceleft{}odd\textbraceright{} A\&B\_c \$x\$ "
        r"\#1 \textasciitilde{} \textasciicircum{} back\textbackslash{}slash}")
    assert fields["author"] == r"O'Brien, Seán and {ME \& CFS Study Group and Friends}"
    assert fields["doi"] == "10.1/a_b%c"
    assert citation_text(record).startswith("O'Brien S, ME & CFS Study Group and Friends. 50%")
    ris = ris_entry(record)
    assert "AU  - O'Brien, Seán\nAU  - ME & CFS Study Group and Friends\n" in ris


def test_vancouver_lists_six_authors_then_et_al(demo) -> None:
    record = {**demo["99000010"][0], "authors": [
        {"last_name": f"Name{i}", "initials": "A"} for i in range(8)]}
    assert citation_text(record).startswith(
        "Name0 A, Name1 A, Name2 A, Name3 A, Name4 A, Name5 A, et al. Heart")


def test_sections_and_sample_sizes() -> None:
    def rec(abstract: str, sections_: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"title": "", "abstract": abstract, "abstract_sections": sections_ or []}

    def size(abstract: str) -> tuple[int, list[str]] | None:
        found = sample_size(rec(abstract))
        return None if found is None else (found.total, [s.text for _, s in found.mentions])

    assert size("We studied 87 patients and 60 healthy controls.") == (
        147, ["87 patients", "60 healthy controls"])
    assert size("Patients with ME/CFS (n = 64), with MS (n = 40) and controls (n = 52) were "
                "recruited.") == (156, ["n = 64", "n = 40", "n = 52"])
    assert size("Fifty-two patients and 48 healthy controls took part.") == (
        100, ["Fifty-two patients", "48 healthy controls"])
    assert size("We examined 45 patients, of whom 26 patients also met the CCC, and 30 "
                "controls.") == (75, ["45 patients", "30 controls"])
    assert size("Patients (n = 50) and 50 healthy controls were enrolled.") == (
        100, ["n = 50", "50 healthy controls"])
    assert size("We included 87 patients (n = 87) in total.") == (87, ["87 patients"])
    assert size("A 47-year-old man aged 18-65 years was seen in 2019 patients registry.") is None
    assert size("Among 1,204 participants, 31% of patients were housebound.") == (
        1204, ["1,204 participants"])
    labelled = rec("BACKGROUND: 17 million people have it.\nMETHODS: We recruited 30 adults.",
                   [{"label": "BACKGROUND", "category": "BACKGROUND",
                     "text": "17 million people have it."},
                    {"label": "METHODS", "category": "METHODS", "text": "We recruited 30 adults."}])
    assert [(p.category, labelled["abstract"][p.start:p.end]) for p in sections(labelled)] == [
        ("BACKGROUND", "17 million people have it."), ("METHODS", "We recruited 30 adults.")]
    found = sample_size(labelled)
    assert found is not None and found.total == 30
    broken = {**labelled, "abstract": "something else"}
    assert [p.category for p in sections(broken)] == ["UNLABELLED"]


def test_verify_span_rejects_wrong_spans(demo) -> None:
    record = demo["99000001"][0]
    assert verify_span(record, SourceSpan("title", 0, 11, "Orthostatic"))
    assert not verify_span(record, SourceSpan("title", 1, 12, "Orthostatic"))
    assert not verify_span(record, SourceSpan("fulltext", 0, 1, "O"))
    assert verify_span(record, SourceSpan("record", 0, 8, "Havelaar", "authors"))
    assert not verify_span(record, SourceSpan("record", 0, 8, "Nobody", "authors"))


# --- real PubMed records from ../shared/data --------------------------------------------------

def _rule_classification(record: Mapping[str, Any], stamp: Mapping[str, str]) -> dict[str, Any]:
    """A classification from the design and term rules (no model): enough to draft from."""
    from classifiers.design import classify_design
    from classifiers.terms import find_terms

    mesh = [m["descriptor"] for m in record["mesh"]]
    design = classify_design(record["title"], record["abstract"], record["publication_types"],
                             mesh)
    terms = find_terms(record["title"], record["abstract"], mesh, record["keywords"])
    label = "mecfs" if terms.mecfs else "adjacent" if terms.adjacent else "not_relevant"
    pem = "unclear" if label == "mecfs" and design.human_participants else "not_applicable"
    return {"pmid": record["pmid"], "policy": dict(stamp), "scanner_version": "0.1.0",
            "relevance": {"label": label, "score": 0.5, "route": "review"},
            "pem": {"label": pem, "confidence": 0.5, "route": "review", "definitions": []},
            "study": {"design": design.design, "human_participants": design.human_participants},
            "retracted": record["is_retracted"]}


@pytest.fixture(scope="module")
def real_records(shared_data: Path) -> list[dict[str, Any]]:
    files = [shared_data / "pubmed_xml" / "pubmed21n1298_mecfs_and_near_miss.xml.gz",
             shared_data / "pubmed_xml" / "pubmed20n0014_first300.xml.gz",
             *sorted(Path(p) for p in glob.glob(
                 str(shared_data / "eutils_fixtures" / "metapub_pmid_xml" / "*.xml")))]
    return [record_dict(r) for f in files for r in iter_pubmed_xml(f)
            if isinstance(r, ParsedRecord)]


def test_real_records_draft_with_exact_spans(real_records: list[dict[str, Any]]) -> None:
    stamp = load_policy(REPO / "policies", "v0.1").stamp
    assert len(real_records) > 800
    kinds = {"no_abstract": 0, "collective": 0, "book": 0, "animal": 0}
    for record in real_records:
        cls = _rule_classification(record, stamp)
        draft = draft_of(record, cls)
        assert_traceable(record, draft)
        (kind, _, fields), = parse_bibtex(draft.fields["bibtex"])
        assert fields["pmid"] == record["pmid"] and kind == ("book" if record["kind"] == "book"
                                                              else "article")
        assert f"PMID: {record['pmid']}." in draft.fields["citation"]
        flags = check_wording(draft.fields, draft.sentences, cls, record=record)
        assert [f for f in flags if f.kind != "retracted"] == [], record["pmid"]
        kinds["no_abstract"] += not record["abstract"]
        kinds["collective"] += any(a["collective_name"] for a in record["authors"])
        kinds["book"] += record["kind"] == "book"
        kinds["animal"] += cls["study"]["design"] == "animal"
        if not record["abstract"]:
            assert "no abstract" in draft.fields["summary"]
    assert all(kinds.values()), kinds
