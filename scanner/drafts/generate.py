"""Build an evidence draft for one paper from its record and classification; no model.

Every sentence of summary, relevance, limitations and pem is a template filled from the
record's structured parts, or a quote of the paper's own words, and carries the spans it
rests on (``content.verify_span`` checks them). Same inputs, same draft, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from classifiers.design import NOTICES, WITH_PARTICIPANTS

from .. import __version__
from . import extract
from .badge import badge as make_badge
from .badge import join_names, pem_sentences
from .citation import (
    bibtex_entry,
    citation_text,
    is_retracted,
    record_leads,
    retraction_notice,
    retraction_pmids,
)
from .content import PROSE_FIELDS, DraftContent, Sentence, SourceSpan, record_span, text_span
from .extract import SampleSize, pick_aim, pick_finding
from .wording import has_cohort

GENERATOR = "scanner.drafts"
GENERATOR_VERSION = "1"

DESIGN_PHRASES = {
    "rct": "a randomised controlled trial",
    "trial_other": "a non-randomised clinical trial",
    "observational": "an observational study", "case_report": "a case report",
    "qualitative": "a qualitative study", "in_vitro": "a laboratory (in vitro) study",
    "animal": "an animal study", "review": "a review", "guideline": "a guideline",
    "commentary": "a commentary", "other": "a publication of another kind",
}
LIMITATIONS = {
    "rct": "It is one trial: it does not show that the results hold in other settings or "
           "over longer follow-up.",
    "trial_other": "It is not a randomised controlled trial, so changes seen during the study "
                   "cannot be credited to the intervention with confidence.",
    "observational": "It is observational: it can show associations, but it cannot establish "
                     "cause and effect.",
    "case_report": "It describes one or a few patients, so it cannot show how common or "
                   "typical the findings are.",
    "qualitative": "It is qualitative: it describes experiences and views, and it does not "
                   "measure how common they are or test treatments.",
    "in_vitro": "It is a laboratory study of cells or samples: it shows what happens outside "
                "the body, not in patients.",
    "animal": "It is an animal study: findings in animals may not hold in humans.",
    "review": "It is a review: it adds no participants of its own, and its conclusions "
              "depend on the studies it included.",
    "guideline": "It is a guideline: it gives recommendations, not new data.",
    "commentary": "It is a commentary: it gives the authors' views, not new data.",
    "other": "Its study design could not be classified from the record, so what it can "
             "show is unclear.",
}
NO_COHORT_DESIGNS = frozenset({"review", "in_vitro", "animal", "commentary", "guideline",
                               "other"})


def _quote(record: Mapping[str, Any], source: str, start: int, end: int,
           ) -> tuple[str, SourceSpan]:
    """“text” of a source slice, end punctuation dropped, with its exact span."""
    text = record.get(source) or ""
    while end > start and text[end - 1] in " .;:,":
        end -= 1
    return f"“{text[start:end]}”", text_span(source, start, end, text)


def _group_text(sample: SampleSize) -> str:
    texts = [s.text[0].lower() + s.text[1:] if s.text[:2].istitle() and s.text[0].isalpha()
             else s.text for _, s in sample.mentions]
    if len(texts) == 1 and sample.mentions[0][0] == sample.total:
        return texts[0]
    return f"{sample.total} participants ({join_names(texts)})"


class _Draft:
    """One draft being built: what the record and classification say, and the sentences."""

    def __init__(self, record: Mapping[str, Any], classification: Mapping[str, Any],
                 names: Mapping[str, str]) -> None:
        self.record, self.cls, self.names = record, classification, names
        study = classification.get("study") or {}
        self.design: str = study.get("design") or "other"
        self.label: str = (classification.get("relevance") or {}).get("label") or "mecfs"
        self.pem_label: str = (classification.get("pem") or {}).get("label") or "unclear"
        self.cohort = has_cohort(classification)
        self.participants = self.cohort or (study.get("human_participants") is True
                                            and self.design in WITH_PARTICIPANTS)
        self.parts = extract.sentences(record)
        self.notice = next((t for t in record.get("publication_types") or () if t in NOTICES),
                           None)
        counted = not self.notice and self.design not in ("review", "guideline", "commentary")
        self.sample = extract.sample_size(record) if counted else None
        self.sample_spans = tuple(s for _, s in self.sample.mentions) if self.sample else ()
        title = record.get("title") or ""
        self.title_span = (text_span("title", 0, len(title), title),) if title else ()
        cue = extract.design_cue(record, self.design)
        if self.notice:
            cue = record_span("publication_types", self.notice)
        self.design_spans = (cue,) if cue else ()
        self.term = extract.mecfs_term(record)
        self.retracted = is_retracted(record) or bool(classification.get("retracted"))
        self.out: list[Sentence] = []

    def add(self, field: str, rule: str, text: str, *spans: SourceSpan | None) -> None:
        kept = tuple(s for s in spans if s is not None) or self.title_span
        self.out.append(Sentence(field, text, kept, rule))

    def retraction_spans(self) -> list[SourceSpan]:
        spans = [record_span("comments_corrections", p) for p in retraction_pmids(self.record)]
        if "Retracted Publication" in (self.record.get("publication_types") or ()):
            spans.append(record_span("publication_types", "Retracted Publication"))
        if self.record.get("is_retracted"):
            spans.append(record_span("is_retracted", True))
        return spans

    def summary(self) -> None:
        if self.retracted:
            pmids = retraction_pmids(self.record)
            where = f" (retraction notice PMID {', '.join(pmids)})" if pmids else ""
            self.add("summary", "summary.retracted", f"This paper has been retracted{where}; "
                     "its findings should not be used as evidence.", *self.retraction_spans())
        for pmid in retraction_pmids(self.record, "expressionofconcernin"):
            self.add("summary", "summary.concern", "An expression of concern about this paper "
                     f"has been published (PMID {pmid}).",
                     record_span("comments_corrections", pmid))
        aim = pick_aim(self.parts)
        if aim is not None:
            quote, span = _quote(self.record, "abstract", aim.start, aim.end)
            self.add("summary", "summary.aim", f"Aim, in the authors' words: {quote}.", span)
        elif self.title_span:
            quote, span = _quote(self.record, "title", 0, self.title_span[0].end)
            self.add("summary", "summary.title", f"The paper's title: {quote}.", span)
        phrase = DESIGN_PHRASES.get(self.design, DESIGN_PHRASES["other"])
        phrase = phrase[0].upper() + phrase[1:]
        if self.notice:
            text = f"A notice about another paper ({self.notice}), not a study."
        elif self.sample:
            text = f"{phrase} of {_group_text(self.sample)}."
        elif self.design in NO_COHORT_DESIGNS - {"other"}:
            text = f"{phrase}, with no participants of its own."
        else:
            text = f"{phrase}; the abstract does not say how many people took part."
        self.add("summary", f"summary.design.{self.design}", text,
                 *self.design_spans, *self.sample_spans)
        finding = pick_finding(self.parts)
        if finding is not None and finding[1] != aim:
            kind, part = finding
            quote, span = _quote(self.record, "abstract", part.start, part.end)
            self.add("summary", f"summary.{kind}",
                     f"Main {kind}, in the authors' words: {quote}.", span)
        if not self.parts:
            self.add("summary", "summary.no_abstract", "PubMed has no abstract for this "
                     "record, so this draft rests on the title and the record's details.")

    def relevance(self) -> None:
        term = self.term
        if self.label == "mecfs":
            if term is None:
                self.add("relevance", "relevance.mecfs.model", "The scanner's classifier "
                         "judged the paper to be about ME/CFS, though its title and abstract "
                         "name no explicit ME/CFS term.")
            elif term.source == "record":
                self.add("relevance", "relevance.mecfs.mesh", "The paper is about ME/CFS: "
                         f"PubMed indexes it under the MeSH heading “{term.text}”.", term)
            else:
                self.add("relevance", "relevance.mecfs.term", f"The paper is about ME/CFS: its "
                         f"{term.source} names “{term.text}”.", term)
            if self.cohort and self.sample:
                self.add("relevance", "relevance.cohort", "It reports its own data from an "
                         f"ME/CFS cohort: {_group_text(self.sample)}.", *self.sample_spans)
            elif self.cohort:
                self.add("relevance", "relevance.cohort", "It reports its own data from an "
                         "ME/CFS cohort; the abstract does not give its size.", term)
            else:
                phrase = DESIGN_PHRASES.get(self.design, DESIGN_PHRASES["other"])
                self.add("relevance", "relevance.no_cohort", "It has no ME/CFS participants "
                         f"of its own: it is {phrase}.", *self.design_spans, term)
            return
        if self.label == "adjacent":
            adj = extract.adjacent_term(self.record)
            if adj is None:
                self.add("relevance", "relevance.adjacent.model", "The scanner's classifier "
                         "judged the paper adjacent to ME/CFS rather than about it.")
            else:
                self.add("relevance", "relevance.adjacent.term", "The paper is on a subject "
                         f"adjacent to ME/CFS (“{adj.text}”), not on ME/CFS itself.", adj)
        else:
            self.add("relevance", "relevance.not_relevant", "The scanner's classifier judged "
                     "the paper not relevant to ME/CFS.")
            collision = extract.collision_term(self.record)
            acronym = extract.cfs_acronym(self.record)
            if collision is not None and acronym is not None:
                self.add("relevance", "relevance.collision", f"Its “{acronym.text}” stands "
                         f"for “{collision.text}”, not chronic fatigue syndrome.",
                         acronym, collision)
            elif collision is not None:
                self.add("relevance", "relevance.collision", f"It is about “{collision.text}”"
                         ", not chronic fatigue syndrome.", collision)
        if term is not None and term.source != "record":
            self.add("relevance", "relevance.mention", f"It names “{term.text}” only for "
                     "context or comparison.", term)

    def limitations(self) -> None:
        if self.retracted:
            self.add("limitations", "limitations.retracted", "It has been retracted, so its "
                     "results are not evidence.", *self.retraction_spans())
        design = "other" if self.notice else self.design
        text = ("It is a notice about another paper, not a study." if self.notice
                else LIMITATIONS.get(design, LIMITATIONS["other"]))
        self.add("limitations", f"limitations.design.{design}", text,
                 *self.design_spans, *self.sample_spans)
        if self.sample and self.sample.total < extract.SMALL_SAMPLE \
                and self.design not in ("qualitative", "case_report"):
            self.add("limitations", "limitations.small_sample", f"Its sample is small "
                     f"({self.sample.total} participants, under the {extract.SMALL_SAMPLE} "
                     "these drafts call small), so its estimates are imprecise.",
                     *self.sample_spans)
        elif not self.sample and self.participants:
            self.add("limitations", "limitations.no_sample", "The abstract does not say how "
                     "many people took part.", *self.design_spans, self.term)
        if self.label != "mecfs" and self.design not in NO_COHORT_DESIGNS:
            adj = extract.adjacent_term(self.record)
            self.add("limitations", "limitations.no_mecfs_cohort", "Its participants were not "
                     "selected as having ME/CFS, so its findings cannot be assumed to hold in "
                     "ME/CFS.", adj, *self.sample_spans)
        self.pem_limitations()

    def pem_limitations(self) -> None:
        uses = [u for u in (self.cls.get("pem") or {}).get("definitions") or ()
                if u["role"] == "inclusion"]
        spans = [SourceSpan(u["evidence"]["source"], u["evidence"]["start"],
                            u["evidence"]["end"], u["evidence"]["text"]) for u in uses]
        names = join_names(list(dict.fromkeys(self.names.get(u["id"], u["id"]) for u in uses)))
        if self.pem_label == "unclear":
            self.add("limitations", "limitations.pem_unclear", "The abstract does not say "
                     "which case definition selected the participants, so it is unknown "
                     "whether they all had post-exertional malaise (PEM).",
                     *self.sample_spans, self.term)
        elif self.pem_label == "not_required" and spans:
            verb = "does" if len(uses) == 1 else "do"
            self.add("limitations", "limitations.pem_not_required", "Its participants were "
                     f"selected by {names}, which {verb} not require post-exertional malaise "
                     "(PEM), so the results may not apply to ME/CFS defined by PEM.", *spans)
        elif self.pem_label == "mixed" and spans:
            self.add("limitations", "limitations.pem_mixed", "Its participants were selected "
                     f"by definitions that differ on PEM ({names}), so not all of them need "
                     "have had post-exertional malaise.", *spans)


def build_draft(record: Mapping[str, Any], classification: Mapping[str, Any], *,
                definition_names: Mapping[str, str], accessed: dt.date,
                content_hash: str) -> DraftContent:
    """The evidence draft for one record under its classification; deterministic."""
    draft = _Draft(record, classification, definition_names)
    draft.summary()
    draft.relevance()
    draft.limitations()
    fallback = [*draft.sample_spans, *draft.design_spans,
                *((draft.term,) if draft.term else ()), *draft.title_span]
    draft.out.extend(pem_sentences(record, classification, definition_names, fallback[:3]))
    fields = {f: " ".join(s.text for s in draft.out if s.field == f) for f in PROSE_FIELDS}
    fields["citation"] = citation_text(record)
    fields["bibtex"] = bibtex_entry(record)
    policy = classification.get("policy") or {}
    stamps = {"generator": GENERATOR, "generator_version": GENERATOR_VERSION,
              "scanner_version": __version__, "policy_id": policy.get("id"),
              "policy_version": policy.get("version"), "policy_sha256": policy.get("sha256"),
              "accessed": accessed.isoformat(), "pmid": str(record["pmid"]),
              "content_hash": content_hash}
    return DraftContent(fields=fields, sentences=tuple(draft.out),
                        badge=make_badge(classification), stamps=stamps,
                        retraction=retraction_notice(record, draft.retracted),
                        leads=record_leads(record))
