"""Full-text escalation: read a paper's methods passages for the case definition.

Used when the policy pins ``[fulltext]`` (``reader = "passages-1"``) and the abstract left
the PEM label in one of ``escalate_labels`` (``unclear``). Steps:

1. Passages (:func:`passages`): the sections whose type or title marks methods,
   participants or eligibility (JATS ``sec-type``/``<title>``; plain-text headings, nested
   subsections included), and tables whose caption names criteria, eligibility or
   participants' characteristics. Without such a section, the fallback is every body
   sentence that names a definition or speaks of criteria / diagnosis.
2. A reading (:func:`build_reading`): the passages, normalised (plain text: running heads,
   page numbers, hyphenation, ligatures) and joined by blank lines, with a map from every
   character back to the full text; citations by reference number ("criteria for CFS (12)
   and ME (13)", JATS ``<xref ref-type="bibr">``) resolved through the reference list to a
   definition's source publication (:data:`REFERENCE_SIGNATURES`) become mentions of it.
3. The PEM rules (the same classifier, with the full-text role rules) read title, abstract
   and the reading together; ``fulltext`` evidence offsets are mapped back, so
   ``fulltext.text[start:end] == evidence.text`` for the text as stored / read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .document import FullText, View, merged, normalised_view
from .fulltext_cohort import CohortEvidence, own_participants
from .pem import DefinitionUse, Evidence, PemClassifier, PemResult, split_sentences
from .pem.model import NA_FROM_TEXT

__all__ = ["READERS", "REFERENCE_SIGNATURES", "Reading", "build_reading",
           "classify_with_fulltext", "cohort_evidence", "passages", "resolve_reference"]

READERS = ("passages-1", "passages-2")

#: A definition's source publication, recognised in a reference-list entry. First match wins
#: (the order keeps the 2011 ICC paper from reading as the 2003 CCC one, and so on).
REFERENCE_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (i, re.compile(p, re.IGNORECASE | re.DOTALL)) for i, p in (
        ("icc_2011", r"international\s+consensus\s+criteria|Carruthers\b.{0,400}\b2011\b"),
        ("ccc_revised_2010", r"\bJason\b.{0,400}\b2010\b.{0,300}(?:revised|Canadian)"),
        ("ccc_2003", r"clinical\s+working\s+case\s+definition|Carruthers\b.{0,400}\b2003\b|"
                     r"Canadian\s+(?:consensus|clinical|case)"),
        ("pediatric_2006", r"p(?:a)?ediatric\s+case\s+definition|\bJason\b.{0,400}\b2006\b"
                           r".{0,300}p(?:a)?ediatric"),
        ("iom_2015", r"Beyond\s+myalgic\s+encephalomyelitis|Institute\s+of\s+Medicine|"
                     r"redefining\s+an\s+illness|National\s+Academ(?:y|ies)"),
        ("reeves_2005", r"clinically\s+empirical\s+approach|\bReeves\b.{0,400}\b2005\b"),
        ("fukuda_1994", r"comprehensive\s+approach\s+to\s+its\s+definition|"
                        r"\bFuk[ua]da\b.{0,400}\b1994\b"),
        ("holmes_1988", r"working\s+case\s+definition|\bHolmes\b.{0,300}\b1988\b"),
        ("oxford_1991", r"guidelines\s+for\s+research|\bSharpe\b.{0,400}\b1991\b"),
        ("nice_2021", r"\bNG\s?206\b|NICE.{0,200}\b2021\b.{0,200}(?:myalgic|chronic\s+fatigue)"),
        ("nice_2007", r"\bCG\s?53\b|(?:NICE|National\s+Institute\s+for\s+(?:Health\s+and\s+)?"
                      r"Clinical\s+Excellence).{0,300}\b2007\b"),
        ("london_1994", r"\bDowsett\b|London\s+criteria"),
        ("ramsay", r"\bRamsay\b.{0,300}\b198[68]\b"),
    ))

_TABLE_TITLE_RE = re.compile(
    r"criteri|eligib|inclusion|exclusion|case\s+definition|participant|patient|subject|"
    r"characteristic|demograph|cohort", re.IGNORECASE)
_FALLBACK_RE = re.compile(
    r"\bcriteri\w*|\bcase\s+definitions?\b|\bdiagnos\w+|\bfulfil\w*|\beligib\w*|"
    r"\binclusion\b", re.IGNORECASE)
_CITE_CUE_RE = re.compile(
    r"\bcriteri\w*|\bdefinitions?\b|\bdiagnos\w*|\baccording\s+to\b|\bfulfil\w*|\bmet\b|"
    r"\bmeeting\b|\bmeet\b|\bdefined\b|\bclassified\b|\bsatisf\w+", re.IGNORECASE)
_CITE_NUM_RE = re.compile(
    r"[\[(]\s*(\d{1,3}(?:\s*(?:[-–,;]|and)\s*\d{1,3})*)\s*[\])]")
#: a bibliography entry read as body text (no reference heading found): "45. National
#: Guideline Centre (UK), ... (NICE, 2021)." / "12. Smith A, et al. ... 2003;11:7-115."
_BIB_ENTRY_RE = re.compile(
    r"^\s*\d{1,3}\.\s+[A-Z][^\n]{0,300}?(?:\b(?:19|20)\d{2}\b[;,.)\s]|\bdoi\b|\bet\s+al\.)")
#: the criteria sentences of the body's fallback must speak of people (or of meeting
#: criteria, which only people do): "symptoms ... selected to align with IOM" does not
_PEOPLE_RE = re.compile(
    r"\b(?:patients?|participants?|subjects?|individuals|persons|people|volunteers|cases|"
    r"women|men|adults|children|adolescents|cohorts?|respondents|sample|"
    r"met|meet|meeting|fulfil\w*|fit|fitted|satisf\w+)\b", re.IGNORECASE)
#: a citation marker follows a word ("criteria (12)", "et al. [4]", "CCC [3, 5]")
_CITE_PRECEDED_RE = re.compile(r"(?:[A-Za-z]{3,}|\bal\.|[A-Z]{2,}|\))[ \t]?\n?[ \t]*$")
_SEPARATOR = "\n\n"
_RESULTS_TITLE_RE = re.compile(r"^\s*(?:\d{1,2}\.?\s*)?(?:results?|discussion)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reading:
    text: str                               # what the PEM rules read
    index: tuple[int, ...]                  # text[i] comes from fulltext.text[index[i]]
    cited: tuple[tuple[int, int, str], ...]  # mentions by reference number (reading offsets)
    passages: tuple[tuple[int, int], ...]   # the passages, fulltext.text offsets
    fallback: bool                          # no methods section: criteria sentences read

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.index[start], self.index[end - 1] + 1


def resolve_reference(entry: str, known: Mapping[str, object] | None = None) -> str | None:
    """The definition a reference-list entry is the source publication of, if any."""
    for def_id, pat in REFERENCE_SIGNATURES:
        if (known is None or def_id in known) and pat.search(entry):
            return def_id
    return None


def passages(doc: FullText) -> list[tuple[int, int]]:
    """Methods / participants / eligibility sections and criteria tables (text offsets)."""
    spans = []
    for s in doc.sections:
        if s.start >= doc.refs_start:
            continue
        if s.kind in ("methods", "eligibility") or (
                s.kind == "table" and _TABLE_TITLE_RE.search(s.title)):
            spans.append((s.start, min(s.end, doc.refs_start)))
    return merged(spans)


def _view(doc: FullText, start: int, end: int) -> View:
    if doc.format == "plain":
        return normalised_view(doc.text, start, end)
    return View(doc.text[start:end], tuple(range(start, end)))


def _join(views: list[View]) -> tuple[str, tuple[int, ...]]:
    parts: list[str] = []
    index: list[int] = []
    for v in views:
        if not v.text:
            continue
        if parts:
            parts.append(_SEPARATOR)
            index.extend([index[-1]] * len(_SEPARATOR))
        parts.append(v.text)
        index.extend(v.index)
    return "".join(parts), tuple(index)


def _fallback_views(doc: FullText, pem: PemClassifier) -> list[View]:
    body = _view(doc, 0, doc.refs_start)
    out = []
    for s0, s1 in split_sentences(body.text):
        sentence = body.text[s0:s1]
        if _BIB_ENTRY_RE.search(sentence) or not _PEOPLE_RE.search(sentence):
            continue          # a reference entry, or nobody selected ("symptoms ... align")
        if _FALLBACK_RE.search(sentence) or pem.names_definition(sentence):
            out.append(View(sentence, body.index[s0:s1]))
    return out


def _cited(doc: FullText, text: str, index: tuple[int, ...],
           pem: PemClassifier) -> list[tuple[int, int, str]]:
    """Mentions of definitions named only by reference number, in reading offsets."""
    known = {d: True for d, _ in REFERENCE_SIGNATURES}
    cands: list[tuple[int, int, str]] = []          # reading start, end, reference key
    if doc.citations:                               # JATS: <xref ref-type="bibr">
        pos = {src: i for i, src in enumerate(index)}
        for c in doc.citations:
            s = pos.get(c.start)
            e = pos.get(c.end - 1)
            if s is not None and e is not None and text[s:e + 1] == doc.text[c.start:c.end]:
                cands.append((s, e + 1, c.ref))
    elif doc.references:                            # plain text: "(12)", "[4, 5]", "[3-5]"
        for m in _CITE_NUM_RE.finditer(text):
            if not _CITE_PRECEDED_RE.search(text[max(0, m.start() - 20):m.start()]):
                continue              # "B (16–20)", "−1 (2)": table cells, not citations
            inner, base = m.group(1), m.start(1)
            for n in re.finditer(r"\d{1,3}", inner):
                cands.append((base + n.start(), base + n.end(), n.group()))
            rng = re.fullmatch(r"\s*(\d{1,3})\s*[-–]\s*(\d{1,3})\s*", inner)
            if rng and 0 < int(rng.group(2)) - int(rng.group(1)) <= 10:
                for k in range(int(rng.group(1)) + 1, int(rng.group(2))):
                    cands.append((base, base + len(inner.rstrip()), str(k)))
    out: list[tuple[int, int, str]] = []
    for s, e, key in cands:
        entry = doc.references.get(key)
        def_id = resolve_reference(entry, known) if entry else None
        if def_id is None:
            continue
        line_start = max(text.rfind("\n\n", 0, s), text.rfind(". ", 0, s), s - 160)
        before = text[line_start:s]
        if not _CITE_CUE_RE.search(before):
            continue                  # a citation, not the criteria the study used
        if pem.names_definition(text[max(line_start, s - 50):s]):
            continue                  # the definition is named right before its citation
        out.append((s, e, def_id))
    # one mention per span: a range "[3-5]" keeps its first resolved definition
    seen: set[tuple[int, int]] = set()
    uniq = []
    for s, e, d in sorted(out):
        if (s, e) not in seen:
            seen.add((s, e))
            uniq.append((s, e, d))
    return uniq


def build_reading(doc: FullText, pem: PemClassifier, *, fallback: bool = False) -> Reading:
    """The passages to read; ``fallback`` (or no methods section) adds the criteria
    sentences of the whole body."""
    spans = passages(doc)
    fallback = fallback or not any(
        s.kind in ("methods", "eligibility") and s.start < doc.refs_start for s in doc.sections)
    views = [_view(doc, a, b) for a, b in spans]
    if fallback:
        views += _fallback_views(doc, pem)
    views.sort(key=lambda v: v.index[0] if v.index else 0)
    # drop views inside an earlier one (a fallback sentence inside a table passage)
    kept: list[View] = []
    for v in views:
        if v.index and kept and kept[-1].index and v.index[0] <= kept[-1].index[-1]:
            continue
        kept.append(v)
    text, index = _join(kept)
    cited = _cited(doc, text, index, pem)
    used = tuple(merged((v.index[0], v.index[-1] + 1) for v in kept if v.index))
    return Reading(text, index, tuple(cited), used, fallback)


def cohort_evidence(doc: FullText) -> CohortEvidence:
    """Whether the full text reports participants of its own (``fulltext_cohort.py``)."""
    body_end = doc.refs_start
    has_methods = any(s.kind in ("methods", "eligibility") and s.start < body_end
                      for s in doc.sections)
    methods, _ = _join([_view(doc, a, b) for a, b in passages(doc)]) if has_methods \
        else ("", ())
    has_results = any(_RESULTS_TITLE_RE.match(s.title) for s in doc.sections
                      if s.start < body_end)
    body = _view(doc, 0, body_end).text
    head = doc.text[:3000] if doc.format == "plain" else body[:3000]
    return own_participants(methods, body, head, has_methods, has_results,
                            doc.article_type)


def classify_with_fulltext(pem: PemClassifier, texts: Mapping[str, str], doc: FullText, *,
                           cohort: bool | None, undecided: bool | None = None,
                           evidence: CohortEvidence | None = None) -> PemResult:
    """The PEM label from title, abstract and the full text's methods passages.

    ``cohort=None`` (the abstract rules could not tell): the full text decides whether the
    paper has participants of its own (``classifiers/fulltext_cohort.py``): a methods
    section reporting participants makes it a cohort (the abstract's "in vitro" / "review"
    cues no longer count); a literature search, an article type such as "Review", or no
    participant sentence at all without a methods section makes it ``not_applicable``.
    ``undecided``: the verdict where the full text cannot tell either (reader
    ``passages-2``: the abstract models'); None leaves it to the PEM rules' own cues.
    ``evidence``: :func:`cohort_evidence` of ``doc``, where the caller has it already.
    """
    cohort_note = ""
    if cohort is None:
        own = evidence if evidence is not None else cohort_evidence(doc)
        if own.verdict is False:
            res = pem.classify(texts, cohort=False)
            return dataclasses.replace(
                res, confidence=NA_FROM_TEXT,
                route="auto" if pem.auto_confidence <= NA_FROM_TEXT else "review",
                reason=f"No ME/CFS participants of its own: {own.why} (full text read).")
        cohort = own.verdict if own.verdict is not None else undecided
        if own.verdict:
            cohort_note = f"; {own.why}"
    reading = build_reading(doc, pem)
    res = pem.classify({**texts, "fulltext": reading.text}, cohort=cohort,
                       cited={"fulltext": reading.cited}, fulltext_rules=True)
    if res.label == "unclear" and not reading.fallback:
        # the methods passages name no definition (a heading the reader does not know, a
        # criteria sentence elsewhere): read the body's criteria sentences as well
        wider = build_reading(doc, pem, fallback=True)
        res2 = pem.classify({**texts, "fulltext": wider.text}, cohort=cohort,
                            cited={"fulltext": wider.cited}, fulltext_rules=True)
        if res2.label != "unclear":
            res, reading = res2, wider
    uses = []
    for u in res.definitions:
        ev = u.evidence
        if ev.source == "fulltext" and ev.end > ev.start:
            s, e = reading.span(ev.start, ev.end)
            ev = Evidence(doc.text[s:e], "fulltext", s, e)
        uses.append(DefinitionUse(u.id, u.pem, u.role, ev))
    has_methods = any(s.kind in ("methods", "eligibility") for s in doc.sections)
    where = ("full text has no methods section; its criteria sentences were read"
             if reading.fallback and not has_methods else
             "full text read: methods passages and the body's criteria sentences"
             if reading.fallback else
             f"full text read: {len(reading.passages)} methods/eligibility passage(s)")
    if not reading.text:
        where = "full text read: no methods passage or criteria sentence found"
    reason = res.reason.rstrip(".") + f" ({where}{cohort_note})."
    return dataclasses.replace(res, definitions=tuple(uses), reason=reason)
