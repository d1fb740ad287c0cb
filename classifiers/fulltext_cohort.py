"""Does a full text report ME/CFS participants of its own? Decided from the text itself.

The abstract rules (``classifiers/pem`` ``no_cohort_cue``: "review", "in vitro", "mice" ...)
misread cohort studies whose methods also mention cell work or cite a review. A methods
section reports its own participants in recognisable sentences: people recruited,
enrolled, included, screened or diagnosed; "we recruited"; "N patients"; "n = 36";
eligibility criteria; informed consent. A review's methods report a literature search
instead (databases, search terms, PRISMA, "studies were included"). Without a methods
section, the publisher's article-type line at the top of the text ("Review", "Hypothesis
and Theory", "Perspective") and the absence of any such sentence mark a paper without
participants.

:func:`own_participants` returns True (its own participants are reported), False (no
participants: a review, hypothesis, commentary; or no participant sentence at all and no
methods section) or None (the text cannot tell; the PEM rules' own cues decide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .pem import split_sentences

__all__ = ["CohortEvidence", "article_type", "own_participants", "participant_sentences"]

_I = re.IGNORECASE
_PEOPLE = (r"(?:participants?|patients?|subjects?|individuals|persons|people|volunteers|"
           r"cases|controls|women|men|females|males|adults|children|adolescents|donors|"
           r"respondents|responders|ME/CFS|CFS|HCs?|HC\s+group)")
_PARTICIPANT_RE = re.compile(
    rf"\b{_PEOPLE}\b[^.;]{{0,160}}?\b(?:were|was|had\s+been|are|will\s+be|have\s+been)\s+"
    r"(?:\w+\s+){0,3}?(?:recruited|enrolled|included|selected|screened|invited|diagnosed|"
    r"eligible|assigned|allocated|randomi[sz]ed|identified|referred|sampled|contacted|"
    r"examined|studied|considered\s+eligible|required|matched|consented)\b|"
    rf"\b(?:we|this\s+study|the\s+study|the\s+present\s+study)\s+(?:\w+\s+)?(?:recruited|"
    r"enrolled|included|studied|invited|examined)\b|"
    rf"\b(?:recruitment|enrol?ment)\s+of\s+(?:\d+\s+)?{_PEOPLE}|"
    rf"\b\d[\d,]*\s+(?:\w+[\s-]+){{0,3}}?{_PEOPLE}\b[^.;]{{0,80}}?\b(?:were|was|had|"
    r"completed|participated|took\s+part|underwent|provided|met|fulfilled|fitted)\b|"
    rf"\b{_PEOPLE}\s*\(\s*n\s*=\s*\d|\bn\s*=\s*\d+\s*\)?\s*(?:ME/CFS|CFS|patients|"
    r"participants|controls|subjects)|"
    r"\b(?:written\s+)?informed\s+consent\s+(?:was|were|had\s+been)\s+(?:obtained|given|"
    r"provided|signed)|\b(?:gave|provided|signed)\s+(?:their\s+)?(?:written\s+)?informed\s+"
    r"consent|"
    rf"\b(?:inclusion|eligibility)\s+criteria\s+(?:for\s+)?(?:the\s+)?(?:\w+\s+)?{_PEOPLE}",
    _I)
_REVIEW_METHOD_RE = re.compile(
    r"\b(?:databases?\s+(?:were|was)\s+searched|searched\s+(?:the\s+)?(?:\w+\s+){0,3}"
    r"databases?|PubMed|MEDLINE|Embase|Scopus|Web\s+of\s+Science|Cochrane\s+Library|"
    r"Google\s+Scholar|PRISMA|search\s+(?:terms|strategy|string)|literature\s+search|"
    r"(?:studies|articles|papers|records|publications|reports)\s+(?:were|was)\s+"
    r"(?:\w+\s+)?(?:included|selected|screened|identified|eligible|excluded|retrieved|"
    r"reviewed))\b", _I)
_NOT_APPLICABLE_RE = re.compile(r"not\s+applicable|\bn/a\b", _I)
#: a sentence citing another work ("[23]", "(12, 13)", "Smith et al.") describes that work
#: unless it speaks of this study ("we", "our", "the present study")
_CITES_RE = re.compile(r"\[\s*\d{1,3}(?:\s*[-–,;]\s*\d{1,3})*\s*\]|\(\s*\d{1,3}(?:\s*[-–,;]"
                       r"\s*\d{1,3})*\s*\)|\bet\s+al\b", _I)
_OWN_STUDY_RE = re.compile(r"\b(?:we|our|us)\b|\b(?:this|the\s+present|the\s+current)\s+"
                           r"(?:study|investigation|trial|cohort|analysis|work)\b", _I)
#: the article-type line publishers print above the title (PDF text) or in the front matter
_ARTICLE_TYPE_RE = re.compile(
    r"^\s*(?:TYPE\s+)?(?P<type>(?:mini[\s-]?|systematic\s+|narrative\s+|scoping\s+)?review"
    r"(?:\s+article)?|hypothesis(?:\s+and\s+theory)?|perspectives?|opinion|commentary|"
    r"editorial|viewpoint|essay|original\s+(?:research|article)|research(?:\s+article)?|"
    r"article|brief\s+report|clinical\s+(?:study|trial)|study\s+protocol)"
    r"(?:\s+open\s+access|\s+published:.*)?\s*$", _I | re.MULTILINE)
#: a meeting report or expert perspective summarises other people's studies
_REPORT_HEAD_RE = re.compile(
    r"\b(?:expert\s+perspectives?|(?:conference|meeting|workshop|symposium|congress)\s+"
    r"(?:report|proceedings|summary|highlights)|insights\s+from\s+the\s+[^\n.]{0,60}?"
    r"(?:conference|meeting|workshop|symposium|congress))\b", _I)
_NO_PARTICIPANT_TYPES = re.compile(
    r"review|hypothesis|perspective|opinion|commentary|editorial|viewpoint|essay|letter", _I)


@dataclass(frozen=True, slots=True)
class CohortEvidence:
    verdict: bool | None
    why: str
    sentence: str = ""


def article_type(text: str, head: int = 3000) -> str | None:
    """The publisher's article-type line near the top of a text ("Review"), if any."""
    m = _ARTICLE_TYPE_RE.search(text[:head])
    return " ".join(m.group("type").split()).lower() if m else None


def participant_sentences(text: str) -> tuple[list[str], list[str]]:
    """(sentences reporting participants, sentences reporting a literature search)."""
    part: list[str] = []
    review: list[str] = []
    for s0, s1 in split_sentences(text):
        sent = " ".join(text[s0:s1].split())
        if _REVIEW_METHOD_RE.search(sent):
            review.append(sent)
        elif _PARTICIPANT_RE.search(sent) and not _NOT_APPLICABLE_RE.search(sent) and (
                not _CITES_RE.search(sent) or _OWN_STUDY_RE.search(sent)):
            part.append(sent)
    return part, review


def own_participants(methods_text: str, body_text: str, head_text: str,
                     has_methods: bool, has_results: bool = True,
                     declared_type: str = "") -> CohortEvidence:
    """Decide from the methods passages (``methods_text``), else the body and the head.

    ``declared_type``: the JATS ``article-type`` ("review-article", "editorial" ...).
    ``has_results``: the text also has a Results or Discussion heading. Without one, the
    "methods" headings found are topic headings of a review (IMRaD is what a study that
    reports its own participants has), so the body rules apply.
    """
    kind = article_type(head_text)
    declared = declared_type.replace("-article", "").replace("-", " ").strip()
    if declared and _NO_PARTICIPANT_TYPES.search(declared):
        kind = declared                 # JATS article-type="review-article" / "editorial"
    if _REPORT_HEAD_RE.search(head_text[:1500]) and not has_results:
        return CohortEvidence(False, "a meeting report / expert perspective without results")
    if has_methods and has_results and methods_text.strip():
        part, review = participant_sentences(methods_text)
        if part and len(part) > len(review):
            return CohortEvidence(True, "the methods report participants of its own", part[0])
        if review and not part:
            return CohortEvidence(False, "the methods describe a literature search",
                                  review[0])
        if kind and _NO_PARTICIPANT_TYPES.search(kind) and not part:
            return CohortEvidence(False, f"the article type is {kind!r}")
        return CohortEvidence(None, "the methods neither report participants nor a search")
    if kind and _NO_PARTICIPANT_TYPES.search(kind):
        return CohortEvidence(False, f"the article type is {kind!r} and the text has no "
                                     "methods section")
    part, _review = participant_sentences(body_text)
    if not part:
        return CohortEvidence(False, "no methods section and no sentence reporting "
                                     "participants")
    return CohortEvidence(None, "no methods section; participant sentences in the body")
