"""Wording checks (scanner/drafts/wording.py) on crafted sentences and on the demo drafts."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.drafts.content import Sentence, SourceSpan
from scanner.drafts.wording import check_wording, has_cohort, sentences_of
from tests.test_drafts import demo_cases


def _cls(design: str = "observational", relevance: str = "mecfs",
         human: bool | None = True, pem: str = "unclear", retracted: bool = False,
         ) -> dict[str, Any]:
    return {"study": {"design": design, "human_participants": human},
            "relevance": {"label": relevance}, "pem": {"label": pem, "definitions": []},
            "retracted": retracted}


def _flags(text: str, cls: dict[str, Any], field: str = "summary") -> list[tuple[str, str]]:
    return [(f.kind, f.sentence) for f in check_wording({field: text}, [], cls)
            if f.kind != "unsupported_sentence"]


CAUSAL = "Pacing improves physical function in these patients."


def test_causal_claim_flagged_unless_randomised() -> None:
    assert _flags(CAUSAL, _cls("observational")) == [("causal_claim_non_randomised", CAUSAL)]
    assert _flags(CAUSAL, _cls("rct")) == []
    for design in ("trial_other", "case_report", "review", "in_vitro", "animal"):
        assert _flags(CAUSAL, _cls(design, human=None))[0][0] == "causal_claim_non_randomised"
    for text in ("Low NK function causes fatigue.", "Infection leads to ME/CFS.",
                 "Autoantibodies cause dysautonomia.", "Rest and pacing improve function.",
                 "Exercise resulted in crashes.", "Symptoms are due to inflammation.",
                 "The drug reduces pain.", "Pacing prevents relapses.",
                 "The diet was effective.", "Mitochondria are responsible for it."):
        assert _flags(text, _cls())[0][0] == "causal_claim_non_randomised", text


def test_causal_words_need_word_boundaries_and_no_quotes() -> None:
    for text in ("Because of this, an improvement was reported.",
                 "Reduced NK cytotoxicity was associated with symptoms.",
                 "It cannot establish cause and effect.", "The cause of ME/CFS is unknown.",
                 "The authors conclude: “pacing improves function”.",
                 'The authors say "it leads to crashes" in their cohort.'):
        assert _flags(text, _cls()) == [], text


def test_mecfs_claims_need_an_mecfs_cohort() -> None:
    claim = "Patients with ME/CFS have lower NK cell function."
    assert _flags(claim, _cls()) == []
    for cls in (_cls("review", human=False), _cls("in_vitro", human=False),
                _cls("animal", human=False), _cls("commentary", human=False),
                _cls("guideline", human=False), _cls(relevance="adjacent"),
                _cls("other", human=None, pem="not_applicable")):
        assert not has_cohort(cls)
        assert _flags(claim, cls) == [("mecfs_claim_without_cohort", claim)]
    assert has_cohort(_cls("other", human=None, pem="unclear"))
    for text in ("ME/CFS patients walk less.", "People with CFS walk less.",
                 "Individuals with chronic fatigue syndrome walk less.",
                 "Adults with myalgic encephalomyelitis walk less."):
        assert _flags(text, _cls("review", human=False))[0][0] == "mecfs_claim_without_cohort"
    for text in ("Tell people with me about it.", "The review names “patients with ME/CFS”.",
                 "It has no ME/CFS participants of its own."):
        assert _flags(text, _cls("review", human=False)) == [], text


def test_sentence_splitting_keeps_abbreviations_and_numbers() -> None:
    text = ("Patients (n = 24) were compared with controls, e.g. siblings, as in Smith et al. "
            "2020 vs. 2019 data at 0.5 mg. A second sentence follows.")
    assert sentences_of(text) == [text[:text.index(" A second")], "A second sentence follows."]


SPAN = SourceSpan("abstract", 0, 38, "Reduced NK cell cytotoxicity in CFS is")
GENERATED = [Sentence("summary", "The authors conclude: “Reduced NK cell cytotoxicity in CFS "
                                 "is”.", (SPAN,), "summary.conclusion"),
             Sentence("limitations", "It is observational: it can show associations, but it "
                                     "cannot establish cause and effect.", (SPAN,), "x")]
RECORD = {"title": "A title.", "abstract": "Reduced NK cell cytotoxicity in CFS is reproducible "
                                           "at the group level."}


def _unsupported(fields: dict[str, str], record: dict[str, Any] | None = None) -> list[str]:
    return [f.sentence for f in check_wording(fields, GENERATED, _cls(), record=record)
            if f.kind == "unsupported_sentence"]


def test_generated_sentences_are_supported_even_when_respaced() -> None:
    fields = {"summary": GENERATED[0].text,
              "limitations": "it is  observational: it can show associations, but it cannot "
                             "establish cause and effect"}
    assert _unsupported(fields) == []
    straight = {"summary": 'The authors conclude: "Reduced NK cell cytotoxicity in CFS is".'}
    assert _unsupported(straight) == []


def test_curator_sentences_need_a_quote_of_the_paper() -> None:
    added = "This drug cures fatigue."
    fields = {"summary": f"{GENERATED[0].text} {added}"}
    assert _unsupported(fields) == [added]
    assert any(f.kind == "causal_claim_non_randomised" and f.sentence == added
               for f in check_wording(fields, GENERATED, _cls()))
    quoting = "The authors say it is “reproducible at the group level”."
    assert _unsupported({"summary": quoting}, RECORD) == []
    assert _unsupported({"summary": quoting}) == [quoting]          # no record: spans only
    assert _unsupported({"summary": "They add “cytotoxicity in CFS is”."}) == []
    assert _unsupported({"summary": "They add “words the paper never used”."}, RECORD) == [
        "They add “words the paper never used”."]
    generated_without_spans = [Sentence("summary", "Plain claim.", (), "x")]
    assert [f.kind for f in check_wording({"summary": "Plain claim."}, generated_without_spans,
                                          _cls())] == ["unsupported_sentence"]


def test_retracted_flag() -> None:
    cls = _cls(retracted=True)
    said = "This paper has been retracted; its findings should not be used."
    (flag,) = check_wording({"summary": said}, [Sentence("summary", said, (SPAN,), "r")], cls)
    assert flag.kind == "retracted" and flag.sentence == said
    (flag,) = [f for f in check_wording({"summary": "Nothing here."}, [], cls)
               if f.kind == "retracted"]
    assert "no longer says so" in flag.message


@pytest.fixture(scope="module")
def demo():
    return demo_cases()


def test_demo_drafts_carry_few_flags(demo) -> None:
    flags = {pmid: check_wording(d.fields, d.sentences, cls, record=rec)
             for pmid, (rec, cls, d) in demo.items()}
    assert {p: [f.kind for f in fs] for p, fs in flags.items() if fs} == {
        "99000003": ["retracted"]}


def test_edited_demo_draft_is_checked(demo) -> None:
    rec, cls, draft = demo["99000025"]         # observational
    fields = dict(draft.fields)
    fields["summary"] += " Autoantibodies cause autonomic dysfunction in ME/CFS."
    kinds = sorted(f.kind for f in check_wording(fields, draft.sentences, cls, record=rec))
    assert kinds == ["causal_claim_non_randomised", "unsupported_sentence"]
    rec, cls, draft = demo["99000010"]         # rct
    fields = dict(draft.fields)
    fields["summary"] += " Pacing reduces crashes."
    kinds = sorted(f.kind for f in check_wording(fields, draft.sentences, cls, record=rec))
    assert kinds == ["unsupported_sentence"]
    rec, cls, draft = demo["99000014"]         # review: no cohort
    fields = {**draft.fields, "relevance": draft.fields["relevance"]
              + " Patients with ME/CFS have impaired mitochondria."}
    kinds = sorted(f.kind for f in check_wording(fields, draft.sentences, cls, record=rec))
    assert kinds == ["mecfs_claim_without_cohort", "unsupported_sentence"]
