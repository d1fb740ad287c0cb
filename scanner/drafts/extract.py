"""A record's parts with exact offsets: abstract sections, sentences, sample sizes, terms.

Offsets index ``record["title"]`` and ``record["abstract"]``; the abstract is the sections
joined with ``"\\n"``, a labelled one written ``"LABEL: text"`` (``scanner.pubmed.parse``),
so each section's place is computed, and checked, rather than searched for.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classifiers.design import classify_design
from classifiers.pem import split_sentences
from classifiers.terms import ADJACENT_TERMS, MECFS_TERMS, OTHER_CFS_TERMS

from .content import SourceSpan, record_span, text_span

_CFS = re.compile(r"\bCFS\b")

#: A study with fewer participants than this (all groups together) is called small.
SMALL_SAMPLE = 50

_LABEL_CATEGORIES = (
    ("CONCLUSIONS", re.compile(r"conclu|interpretation|implication|significance", re.I)),
    ("OBJECTIVE", re.compile(r"objective|\baims?\b|purpose|goal|question|hypothes", re.I)),
    ("BACKGROUND", re.compile(r"background|introduction|context|rationale", re.I)),
    ("METHODS", re.compile(r"method|design|setting|participant|patients|subjects|"
                           r"intervention|measure|procedure|material|case|population", re.I)),
    ("RESULTS", re.compile(r"result|finding|outcome", re.I)),
)


@dataclass(frozen=True)
class Part:
    """A section of the abstract, or one of its sentences; ``text == abstract[start:end]``."""

    category: str   # BACKGROUND OBJECTIVE METHODS RESULTS CONCLUSIONS OTHER, or UNLABELLED
    start: int
    end: int
    text: str
    index: int = 0  # the sentence's place in its section


def _category(label: str | None, category: str | None) -> str:
    if category and category.upper() not in ("UNASSIGNED", "UNLABELLED"):
        return category.upper()
    for name, pattern in _LABEL_CATEGORIES:
        if label and pattern.search(label):
            return name
    return "OTHER" if label else "UNLABELLED"


def sections(record: Mapping[str, Any]) -> list[Part]:
    """The abstract's sections with offsets; one UNLABELLED part if they do not add up."""
    abstract = record.get("abstract") or ""
    out: list[Part] = []
    pos = 0
    for sec in record.get("abstract_sections") or ():
        label, text = sec.get("label"), sec.get("text") or ""
        start = pos + (len(label) + 2 if label else 0)
        end = start + len(text)
        if abstract[start:end] != text:
            out = []
            break
        out.append(Part(_category(label, sec.get("category")), start, end, text))
        pos = end + 1
    if (not out or pos - 1 != len(abstract)) and abstract:
        return [Part("UNLABELLED", 0, len(abstract), abstract)]
    return out


def sentences(record: Mapping[str, Any]) -> list[Part]:
    """Every sentence of the abstract, with its section's category."""
    out = []
    for sec in sections(record):
        for i, (s, e) in enumerate(split_sentences(sec.text)):
            out.append(Part(sec.category, sec.start + s, sec.start + e, sec.text[s:e], i))
    return out


# --- aim and finding ----------------------------------------------------------------------

_AIM = re.compile(
    r"^(?:to|we aimed|we sought)\b|\b(?:we|this (?:study|trial|analysis|paper|article|review|"
    r"report)|the (?:present|current) study|here)\b[^.]{0,40}?\b(?:aim|sought|investigat|"
    r"examin|evaluat|assess|ask|explor|test|compar|determin|describ|report|studied|measur|"
    r"characteri|analy[sz]|quantif|review|summari|present|discuss|argue|propose)|"
    r"\b(?:the|our|main|primary|study) (?:aims?|objectives?|purposes?|goals?)\b|\bwhether\b",
    re.I)
_CONCLUDE = re.compile(
    r"\b(?:we conclude|in conclusion|conclusions?|suggest(?:s|ed)?|indicat(?:e|es|ed)|"
    r"show(?:s|ed|n)?|demonstrat(?:e|es|ed)|support(?:s|ed)? (?:the|a|an|our)|reveal(?:s|ed)?|"
    r"these (?:results|findings|data)|our (?:results|findings|data)|in summary|taken together|"
    r"may (?:be|contribute|explain|reflect|provide|help|serve|represent|play|underlie))\b",
    re.I)
_FUTURE = re.compile(
    r"\b(?:needed|warranted|future|further (?:research|stud\w*|work|investigation)|"
    r"more research|should (?:focus|plan|be (?:confirmed|replicated|explored|investigated|"
    r"studied|examined)))\b", re.I)


def pick_aim(parts: Sequence[Part]) -> Part | None:
    """The sentence that says what the study set out to do, if one does."""
    objective = [p for p in parts if p.category == "OBJECTIVE"]
    for group in (objective, [p for p in parts if p.category == "BACKGROUND"][::-1],
                  [p for p in parts if p.category in ("UNLABELLED", "OTHER") and p.index < 4]):
        for p in group:
            if _AIM.search(p.text):
                return p
    return objective[0] if objective else None


def pick_finding(parts: Sequence[Part]) -> tuple[str, Part] | None:
    """("conclusion" | "result", sentence): the authors' main finding."""
    conclusions = [p for p in parts if p.category == "CONCLUSIONS"]
    if conclusions:
        return "conclusion", conclusions[0]
    tail = [p for p in parts if p.category != "OTHER"][-3:]
    for p in tail:
        if _CONCLUDE.search(p.text) and not _FUTURE.search(p.text):
            return "conclusion", p
    for p in tail:
        if _CONCLUDE.search(p.text):
            return "conclusion", p
    for p in tail[::-1]:
        if not _FUTURE.search(p.text):
            return "result", p
    return ("result", tail[-1]) if tail else None


# --- sample size ----------------------------------------------------------------------------

_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_VALUES = {w: i + 1 for i, w in enumerate(_UNITS)} | {
    w: i + 10 for i, w in enumerate(_TEENS)} | {w: (i + 2) * 10 for i, w in enumerate(_TENS)}
_NUM = (r"\d{1,3}(?:,\d{3})+|\d+|(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(_UNITS)
        + r"))?|" + "|".join(_TEENS + _UNITS))
_NOUN = (r"patients|participants|adults|children|adolescents|individuals|subjects|people|"
         r"persons|women|men|cases|controls|volunteers|donors|respondents|twins|veterans|"
         r"students|girls|boys|youths?|infants|survivors|athletes|workers|employees|drivers|"
         r"nurses|physicians|clinicians|caregivers|parents|families|members")
_SKIP = (r"of|in|per|from|at|on|to|or|with|by|than|million|thousand|billion|percent|times|"
         r"years?|months?|weeks?|days?|hours?|minutes?|[a-z]*-?year-old")
_COUNT_RE = re.compile(
    rf"(?<![\w.,%-])(?P<num>{_NUM})\s+(?:(?!(?:{_SKIP})\b)[A-Za-z][\w'/-]*\s+){{0,4}}?"
    rf"(?P<noun>{_NOUN})\b", re.I)
_N_EQ_RE = re.compile(r"\b[nN]\s?=\s?(?P<num>\d{1,3}(?:,\d{3})+|\d+)\b")
_SUBGROUP_BEFORE = re.compile(r"(?:of whom|of these|of them|among them|including|of the)\s*$",
                              re.I)
_RECRUIT = re.compile(r"\b(?:recruit|enrol|includ|studied|examined|followed|invited|"
                      r"random|participat|sample|cohort|we (?:measured|collected|compared))",
                      re.I)


@dataclass(frozen=True)
class SampleSize:
    total: int
    mentions: tuple[tuple[int, SourceSpan], ...]   # (count, where it is said)


def _value(num: str) -> int | None:
    num = num.lower().replace(",", "")
    if num.isdigit():
        return int(num)
    parts = re.split(r"[- ]", num)
    values = [_WORD_VALUES.get(p) for p in parts]
    return None if None in values else sum(v for v in values if v is not None)


def _counts(text: str, source: str, start: int, end: int) -> list[tuple[int, SourceSpan]]:
    """Group sizes said in ``text[start:end]``: "87 patients", "Fifty-two adults", "(n = 64)".

    An "n = 87" right after a counted group repeats it and is left out; a count after "of
    whom" / "of these" is a subgroup of one already counted.
    """
    found: list[tuple[int, SourceSpan]] = []
    for pattern in (_COUNT_RE, _N_EQ_RE):
        for m in pattern.finditer(text, start, end):
            value = _value(m.group("num"))
            if value is None or value == 0 or value > 10_000_000:
                continue
            if _SUBGROUP_BEFORE.search(text, max(0, m.start() - 16), m.start()):
                continue
            if pattern is _COUNT_RE and 1900 <= value <= 2100 and "," not in m.group("num"):
                continue
            if pattern is _N_EQ_RE and any(0 <= m.start() - s.end <= 4 for _, s in found):
                continue
            found.append((value, text_span(source, m.start(), m.end(), text)))
    return sorted(found, key=lambda c: c[1].start)


def sample_size(record: Mapping[str, Any]) -> SampleSize | None:
    """The participants a study reports, from the first sentence that counts them."""
    abstract = record.get("abstract") or ""
    parts = sentences(record)
    methods = [p for p in parts if p.category == "METHODS"]
    cued = [p for p in parts if p.category not in ("BACKGROUND", "OBJECTIVE", "CONCLUSIONS")
            and _RECRUIT.search(p.text)]
    rest = [p for p in parts if p.category in ("RESULTS", "UNLABELLED", "OTHER")]
    for part in (*methods, *cued, *rest):
        counts = _counts(abstract, "abstract", part.start, part.end)
        if counts:
            return SampleSize(sum(c for c, _ in counts), tuple(counts))
    title = record.get("title") or ""
    counts = _counts(title, "title", 0, len(title))
    return SampleSize(sum(c for c, _ in counts), tuple(counts)) if counts else None


# --- terms and design cues ------------------------------------------------------------------

def _first(pattern: re.Pattern[str], record: Mapping[str, Any]) -> SourceSpan | None:
    for source in ("title", "abstract"):
        text = record.get(source) or ""
        m = pattern.search(text)
        if m:
            return text_span(source, m.start(), m.end(), text)
    return None


def mecfs_term(record: Mapping[str, Any]) -> SourceSpan | None:
    """The first explicit ME/CFS name in title or abstract (never a bare acronym)."""
    found = _first(MECFS_TERMS, record)
    if found is None:
        descriptors = [m.get("descriptor") if isinstance(m, Mapping) else m
                       for m in record.get("mesh") or ()]
        if "Fatigue Syndrome, Chronic" in descriptors:
            return record_span("mesh", "Fatigue Syndrome, Chronic")
    return found


def adjacent_term(record: Mapping[str, Any]) -> SourceSpan | None:
    return _first(ADJACENT_TERMS, record)


def collision_term(record: Mapping[str, Any]) -> SourceSpan | None:
    return _first(OTHER_CFS_TERMS, record)


def cfs_acronym(record: Mapping[str, Any]) -> SourceSpan | None:
    return _first(_CFS, record)


def design_cue(record: Mapping[str, Any], design: str) -> SourceSpan | None:
    """Where the study-design rules found ``design``, if they find the same design."""
    mesh = [m.get("descriptor") if isinstance(m, Mapping) else m for m in record.get("mesh") or ()]
    result = classify_design(record.get("title") or "", record.get("abstract") or "",
                             record.get("publication_types") or (), [m for m in mesh if m])
    if result.design != design:
        return None
    reason = result.reason
    if reason.startswith("publication type "):
        return record_span("publication_types", reason.removeprefix("publication type "))
    notice = re.match(r"a notice \((.+)\), not a study$", reason)
    if notice:
        return record_span("publication_types", notice.group(1))
    if reason == "MeSH Animals without Humans":
        return record_span("mesh", "Animals")
    if reason.startswith("text: "):
        try:
            cue = ast.literal_eval(reason.removeprefix("text: "))
        except (ValueError, SyntaxError):
            return None
        for source in ("title", "abstract"):
            text = record.get(source) or ""
            at = text.find(cue) if isinstance(cue, str) and cue.strip() else -1
            if at >= 0:
                return text_span(source, at, at + len(cue), text)
    return None
