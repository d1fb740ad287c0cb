"""Case-definition and PEM-status extractor (rules, no model).

Given a paper's texts (title, abstract, later full text) this module finds the ME/CFS case
definitions the text names (shared design notes, domain.md section 2; the policy file's
``[[case_definitions]]``), decides for each mention whether it was used to include
participants (``inclusion``), describes a subgroup (``subgroup``) or is only talked about
(``background``), and derives the paper's PEM status (domain.md section 3):

``required``
    every path into the study required PEM: a PEM-requiring definition, all of several
    definitions ("Fukuda and CCC"), a union in which every member requires PEM ("CCC or IOM"),
    or PEM added as an explicit extra criterion ("Fukuda criteria plus PEM").
``not_required``
    every path allowed participants without PEM (only optional / absent definitions, and
    ``weak`` ones as the policy's ``weak_as`` says).
``mixed``
    paths that differ: a union ("Fukuda or CCC", "at least one of"), several cohorts with
    different definitions, or a subgroup that also met a PEM-requiring definition
    ("of whom 26 also met the CCC").
``unclear``
    an ME/CFS cohort, but no definition used for inclusion is named.
``not_applicable``
    no ME/CFS participants (the caller says ``cohort=False``; or, with ``cohort=None``, the
    text calls itself a review / commentary / in-vitro or animal study).

How it reads a text: it is split into sentences (offsets kept; no split after "et al.",
"e.g.", "vs.", initials, or inside decimals; a line break ends a sentence only after end
punctuation or before a blank line, so PDF text broken mid-sentence stays whole). Definition
patterns are matched over the whole text; a match may not cross a sentence boundary.
Overlapping matches of different definitions keep the stronger (non-ambiguous) and then the
longer one; adjacent matches of the same definition ("NICE 2007 (CG53)", "CDC/Fukuda",
"Canadian Consensus Criteria (CCC)") merge. An ambiguous form (the policy's ``ambiguous``:
bare "CDC criteria", "ICC", "CCC", "NICE", "IOM", "NAM", "SEID", "Ramsay") is dropped next to a
statistic ("ICC = 0.84", "ICC(2,1)", "ICCs", "intraclass correlation coefficient (ICC)", "CCC"
defined as Lin's concordance coefficient) or a known other use ("Ramsay Hunt"), and counts
only as the object of a use cue ("met the ICC", "ICC criteria were used"); an acronym the
text itself defines as that definition ("International Consensus Criteria (ICC)") is no
longer ambiguous.

Within a sentence the mentions are grouped: a new group starts where the words between two
mentions open a new clause or cohort ("who", "met", "cohort", "controls", "of whom", ";");
inside a group "or", "and/or", "either", "at least one of" and "/" make a union, otherwise
("and", "both", ",") all definitions were met together. Each group gets one role from the
words around it, in this order: negation / exclusion ("did not meet", "were excluded") and
generic present tense ("diagnosis is based on", "PEM is required by", "45% of people meet")
-> background; a definition used as an outcome ("the proportion meeting ...") -> background;
subgroup cues ("of whom", "also met", "a subset", "including 26 who", "restricted to", "N%
met") or patient groups compared in a results sentence ("than those who met ...") ->
subgroup; background cues ("such as", "e.g.", "developed by", "require(s)", "most widely
used", "previous studies", "align with"), unless a participant + inclusion verb governs the
mention, or definitions compared with each other -> background; otherwise inclusion cues
("patients who met", "fulfilling", "diagnosed according to / by / using", "inclusion
criteria", "were included / recruited / enrolled / selected", "(Canadian Criteria; n = 84)")
-> inclusion. In full text, mentions after the reference list's heading are background.
An explicit PEM requirement is read right after the group ("Fukuda criteria plus PEM",
"with the additional requirement of post-exertional malaise") or from a sentence of its own
("PEM was required for inclusion"); present-tense, modal or negated statements do not count.

Evidence: for an inclusion or subgroup use, the span runs from the nearest use cue in the
sentence to the end of the definition's name ("fulfilling the Canadian Consensus Criteria
(CCC"), so it shows both the name and its use; for background, the name alone. Always
``texts[source][start:end] == text``.

Confidence (0..1) of a label: 0.90 for a definition named with explicit inclusion wording
(a participant noun with a verb such as met / fulfilled / diagnosed, or "inclusion criteria",
"were included / recruited / enrolled"), 0.85 for a parenthesis after the cohort, 0.80 for
weaker wording (only "according to", "based on", "defined by", "classified"); minus 0.20
where the mention rests on an ambiguous form only; at most 0.85 where an explicit extra PEM
requirement decided the label; at most 0.80 for a subgroup, 0.60 for a subgroup with no stated
main definition; minus 0.05 where a ``weak`` definition decided the label through
``weak_as``; minus 0.10 where the text reports the prevalence / proportion of ME/CFS (the
definition may classify an outcome rather than select participants); minus 0.10 where a
mixed label rests on groups from different sentences (one may be a results sentence
misread). Agreeing groups count by the best of them; a mixed label by the weakest.
``unclear``: 0.90 when nothing was found, 0.50 with doubt. ``not_applicable``: 0.95 when the
caller says there is no cohort, 0.70 when only the text says so.

Routing: ``auto`` iff confidence >= ``auto_confidence`` and the label is not an ``unclear``
with doubt (a definition named but only as background, an ambiguous form left without a use
cue, a subgroup without a PEM-requiring definition, or PEM required without any named
definition: a person should look, or the full text should be read); otherwise ``review``.
Recognised collisions (statistics) are not doubt.

``weak_as``: "not_required" (policy v0.1), "required", "mixed" (a weak path counts as both)
or "unclear" (the policy declines to decide: such a path makes the label unclear).

Everything is deterministic: results are ordered by source (title, abstract, fulltext, then
any other source alphabetically) and evidence start offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "LABELS", "PEM_STATUSES", "ROLES", "Definition", "DefinitionUse", "Evidence",
    "PemClassifier", "PemResult", "split_sentences",
]

PEM_STATUSES = ("required", "optional", "absent", "weak")
LABELS = ("required", "not_required", "mixed", "unclear", "not_applicable")
ROLES = ("inclusion", "subgroup", "background")
WEAK_AS = ("not_required", "required", "mixed", "unclear")
SOURCE_ORDER = ("title", "abstract", "fulltext")

# Confidence constants (see the module docstring).
C_STRONG = 0.90
C_WEAK = 0.80
C_PAREN = 0.85
AMBIGUOUS_PENALTY = 0.20
PEM_EXTRA_CAP = 0.85
SUBGROUP_CAP = 0.80
SUBGROUP_ONLY = 0.60
WEAK_PENALTY = 0.05
OUTCOME_PENALTY = 0.10
CROSS_SENTENCE_PENALTY = 0.10
UNCLEAR_CLEAN = 0.90
UNCLEAR_DOUBT = 0.50
NA_GIVEN = 0.95
NA_FROM_TEXT = 0.70


# --- public data ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Definition:
    """One case definition, built from the policy's ``[[case_definitions]]``."""

    id: str
    name: str
    pem: str
    patterns: tuple[str, ...]
    ambiguous: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    text: str      # exact substring: source_text[start:end] == text
    source: str    # "title" | "abstract" | "fulltext"
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DefinitionUse:
    id: str
    pem: str       # the definition's PEM status: required | optional | absent | weak
    role: str      # inclusion | subgroup | background
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class PemResult:
    label: str          # required | not_required | mixed | unclear | not_applicable
    confidence: float   # 0..1
    route: str          # auto | review
    definitions: tuple[DefinitionUse, ...]
    reason: str         # one short sentence: why this label


# --- sentences --------------------------------------------------------------------------------

# A line break ends a sentence only after end punctuation or before a blank line: PubMed joins
# abstract sections with "\n", while text extracted from PDFs breaks lines mid-sentence.
_BOUNDARY = re.compile(
    r"""[.!?]["'”’)\]]*\s+(?=["'“‘(\[]?[A-Z0-9])|(?<=[.!?:])[ \t]*\n\s*|\n[ \t]*\n\s*""")
_ABBREV_END = re.compile(
    r"(?:\b(?:et\s+al|e\.g|i\.e|vs|cf|approx|ca|resp|fig|figs|ref|refs|no|nos|dr|mr|mrs|ms|"
    r"prof|st|eq|vol|pp|inc|ltd|co|jr|sr)|(?-i:\b[A-Z]))\.$",
    re.IGNORECASE)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``; ``text[start:end]`` is stripped."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        if "\n" in m.group() and text[m.start()] not in ".!?":
            end = m.start()
        else:
            if _ABBREV_END.search(text, max(0, m.start() - 12), m.start() + 1):
                continue
            end = m.start() + len(m.group().rstrip())
        _add_span(text, pos, end, spans)
        pos = m.end()
    _add_span(text, pos, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


# --- cue vocabulary ---------------------------------------------------------------------------

_I = re.IGNORECASE


def _required_literal(pattern: str) -> str:
    """The longest run of ASCII letters and digits that every match of ``pattern`` contains.

    Read from the pattern's top-level sequence only (never inside a branch, an optional
    or repeated part, or a lookaround), lower-cased; "" when there is none or the pattern
    cannot be read. Used as a cheap ``in`` test before the regex search.
    """
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, _I)
    except Exception:  # any parser change: no prefilter, never a wrong one
        return ""
    best, run = "", ""
    for op, arg in parsed:
        if str(op) == "LITERAL" and chr(arg).isascii() and chr(arg).isalnum():
            run += chr(arg).lower()
        else:
            best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    return best if len(best) >= 3 else ""
_PARTICIPANT = (
    r"\b(?:patients?|participants?|subjects?|individuals?|adults?|adolescents?|children|"
    r"youths?|teenagers?|cases?|people|persons?|women|men|females?|males?|volunteers?|"
    r"pw(?:ME|MECFS|CFS)|sufferers?|respondents?|veterans?|twins?|students?|cohort)\b|"
    r"\bn\s*=\s*\d")
_INCL_VERB_RE = re.compile(
    r"\b(?:met|meet|meets|meeting|fulfil+(?:s|ed|ing)?|satisf(?:y|ies|ied|ying)|"
    r"fit(?:s|ted|ting)?|qualif(?:y|ies|ied|ying)|diagnosed|diagnosis|recruited|included|"
    r"enrolled|enroled|selected|screened|identified|defined|classified|categori[sz]ed|"
    r"characteri[sz]ed|confirmed|pass(?:ed|ing)?|required)\b|"
    r"\baccording\s+to\b|\bbased\s+on\b|\bin\s+accordance\s+with\b|\binclusion\s+criteri|"
    r"\beligib\w*|\b(?:was|were)\s+used\b|\busing\s+the\b", _I)
_STRONG_INCL_RE = re.compile(
    r"\binclusion\s+criteri\w*|\b(?:were|was|are|be|being)\s+(?:\w+\s+)?(?:included|enrolled|"
    r"recruited|selected|eligible)\b|\beligib\w+|\bwe\s+(?:\w+\s+)?(?:included|recruited|"
    r"enrolled|selected|studied|examined|followed|compared)\b|\b(?:were|was)\s+used\s+"
    r"(?:\w+\s+)?(?:for|to|as)\b", _I)
_PART_VERB_RE = re.compile(
    r"(?:" + _PARTICIPANT + r")[^.;]{0,80}?\b(?:met|meet|meets|meeting|fulfil+(?:s|ed|ing)?|"
    r"satisf(?:y|ies|ied|ying)|fit(?:s|ted|ting)?|qualif\w+|diagnosed|recruited|included|"
    r"enrolled|selected|classified|characteri[sz]ed|pass(?:ed|ing)?)\b", _I)
_PROTOCOL_RE = re.compile(
    r"\bwill\b|\bmust\b|\bshall\b|\beligib\w*|\binclusion\b|\bto\s+be\s+included\b|"
    r"\bwe\b|\bour\b", _I)
_PAST_RE = re.compile(
    r"\b(?:was|were|had|met|fulfilled|satisfied|recruited|included|enrolled|selected|"
    r"fulfilling|meeting|satisfying|fitting)\b", _I)
_GENERIC_RE = re.compile(
    r"\b(?:is|are|can\s+be|may\s+be|should\s+be)\s+(?:\w+ly\s+|still\s+|now\s+)?"
    r"(?:based\s+on|made|defined|diagnosed|established|confirmed|determined|required|mandatory|"
    r"compulsory|obligatory|needed|necessary)\b|"
    r"\b(?:is|are)\s+(?:a|an|the|one\s+of\s+the)\s+(?:\w+\s+)?(?:core|cardinal|hallmark|key|"
    r"central|mandatory|required|compulsory|optional)\b|"
    r"\b(?:meet|meets|fulfils?|fulfills?|satisf(?:y|ies))\b", _I)
_BACKGROUND_RE = re.compile(
    r"\bsuch\s+as\b|\be\.g\.|\bfor\s+(?:example|instance)\b|\bincluding\s+the\b|"
    r"\bcase\s+definitions?\b[^.]{0,40}\b(?:exist|have\s+been|were\s+(?:proposed|published)|"
    r"differ|vary)|\b(?:developed|proposed|published|introduced|established)\s+(?:by|in)\b|"
    r"\b(?:require|requires|list|lists|mention|mentions)\b|\bmandatory\b|\bcompulsory\b|"
    r"\b(?:most|more|widely|commonly|frequently)\s+(?:widely\s+|commonly\s+)?"
    r"(?:used|accepted|cited|applied)\b|\bmost\s+of\s+which\b|"
    r"\b(?:previous|prior|earlier|other|most|many|several|some|published|existing)\s+"
    r"(?:\w+\s+)?(?:studies|trials|reports|research|cohorts|investigators|authors)\b|"
    r"\bstudies\s+(?:that\s+|which\s+)?(?:used|using|applied|included|in\s+which)\b|"
    r"\bhave\s+been\s+(?:diagnosed|selected|defined)\b|\b(?:criteria|definitions?)\s+like\b|"
    r"\balign\w*\s+with\b|\bconsistent\s+with\b|\bresembl\w*|\bsimilar\s+to\b", _I)
_OUTCOME_RE = re.compile(
    r"\b(?:proportion|percentage|prevalence|number|frequency|rates?)\s+of\s+[^.;]{0,80}?"
    r"(?:meeting|met|fulfil\w*|satisf\w*|based\s+on|according\s+to|defined\s+by|using)\b|"
    r"\boutcomes?\b", _I)
_COMPARE_DEFS_RE = re.compile(
    r"\bcompar\w*\b|\bversus\b|\bvs\b\.?|\bcontrast\w*\b|\bagreement\s+between\b|"
    r"\boverlap\w*\b", _I)
_COMPARE_GROUPS_RE = re.compile(
    r"\bthan\b|\bcompared\s+(?:with|to)\b|\bversus\b|\bvs\b|\bdid\s+not\s+differ\b|"
    r"\bno\s+differences?\b|\bsimilar\b|\bdiffer\w*\s+between\b|\bwhereas\b|\brestrict\w*|"
    r"\bstratif\w*|\bsensitivity\s+analys", _I)
_WHO_MET_RE = re.compile(
    r"\b(?:those|patients|participants|subjects|individuals|cases|people|pw\w+)\s+"
    r"(?:\w+\s+){0,2}?(?:who|that)?\s*(?:only\s+|also\s+|additionally\s+)?"
    r"(?:met|meeting|meet|fulfil\w*|satisf\w*|fitting|fit)\b", _I)
_SUBGROUP_VERB = r"(?:met|meet|meeting|fulfil\w*|satisf\w*|fit\w*|qualif\w*)\b"
_SUBGROUP_RE = re.compile(
    r"\bof\s+(?:whom|these|them|those)\b|\bamong\s+(?:whom|them|these|those)\b|"
    r"\b(?:also|additionally)\s+(?:\w+\s+)?" + _SUBGROUP_VERB + r"|\bsubsets?\b|\bsub-?groups?\b|"
    r"\bsub-?samples?\b|\bsubpopulations?\b|\brestrict\w*|\bstratif\w*|"
    r"\bincluding\s+\d[\d,]*\s+(?:\w+\s+)?(?:who|that)\b|\bonly\s+(?:the\s+)?$|"
    r"\b\d+(?:\.\d+)?\s*%\)?\s*(?:of\s+(?:the\s+)?\w+\s+)?(?:\w+\s+)?" + _SUBGROUP_VERB, _I)
_NEGATION_RE = re.compile(
    r"\b(?:not|never|no\s+longer)\s+(?:\w+\s+){0,2}?(?:meet|met|meeting|fulfil\w*|satisf\w*|"
    r"qualif\w*|fit|fitting|diagnosed|included|enrolled|recruited|selected|eligible|required|"
    r"used|part)\b|\bneither\b|\bnor\b|\bwithout\b|\bexclu\w+", _I)
_BREAK_RE = re.compile(
    r"\b(?:who|whom|whose|which|that|those|met|meet|meeting|meets|fulfil\w*|satisf\w*|"
    r"diagnosed|recruited|included|enrolled|selected|cohorts?|groups?|arms?|controls?|"
    r"patients|participants|subjects|individuals|adults|cases|whereas|while|than|compared|"
    r"versus|vs)\b|;", _I)
_OR_RE = re.compile(
    r"\bor\b|\band\s*/\s*or\b|\beither\b|\bat\s+least\s+one\b|\bany\s+(?:one\s+)?of\b|"
    r"\bone\s+or\s+more\b", _I)
_SLASH_ONLY_RE = re.compile(r"^[\s()\[\]\d,]*/[\s()\[\]\d,]*$")
_PAREN_BEFORE_RE = re.compile(
    r"(?:" + _PARTICIPANT + r"|ME/CFS|CFS/ME|CFS|ME|SEID|syndrome|encephalomyelitis)"
    r"\s*\(\s*$", _I)
_PEM_TERM = (
    r"(?:post[\s-]?exertional\s+(?:malaise|symptom\s+exacerbation|neuroimmune\s+exhaustion)|"
    r"\bPEM\b|\bPESE\b|\bPENE\b)")
_PEM_EXTRA_RE = re.compile(
    r"^[^.;]{0,60}?(?<!\bnot\s)(?<!\bno\s)\b(?:plus|and(?:\s+also)?(?:\s+(?:had|have|has|"
    r"reported|required|requiring|with|exhibited|the\s+presence\s+of))?|with(?:\s+the)?\s+"
    r"(?:additional\s+|added\s+|further\s+|extra\s+)?(?:requirement|criterion|condition)\s+"
    r"(?:of|for|that)|with\s+(?:mandatory|required|obligatory|compulsory)|additionally\s+"
    r"(?:requiring|required|had|having|reporting)|as\s+well\s+as|in\s+addition\s+to|"
    r"(?:who\s+)?also\s+(?:had|reported|required|exhibited)|requiring)\s+"
    r"(?:the\s+)?(?:presence\s+of\s+)?(?:a\s+)?(?:history\s+of\s+)?(?:mandatory\s+|"
    r"obligatory\s+|compulsory\s+)?" + _PEM_TERM, _I)
_PEM_REQ_WORDS = (
    r"(?:\brequired\b|\brequirement\b|\bmandatory\b|\bcompulsory\b|\bobligatory\b|"
    r"\binclusion\s+criteri\w*|\b(?:had|have|has)\s+to\s+(?:have|report|experience|exhibit)\b|"
    r"\bmust\s+(?:have|report|experience|exhibit)\b|\bwere\s+included\s+if\b|\beligib\w*)")
_PEM_REQUIRED_SENTENCE_RE = re.compile(
    _PEM_TERM + r"[^.;]{0,60}?" + _PEM_REQ_WORDS + "|" + _PEM_REQ_WORDS + r"[^.;]{0,60}?"
    + _PEM_TERM, _I)
_PEM_REQUIRED_NEG_RE = re.compile(
    r"\bnot\b|\bwithout\b|\bno\s+requirement\b|\bshould\b|\bcould\b|\bwould\b|\bmay\b|"
    r"\bmight\b|\brecommend\w*|\bwhich\b|\bthat\s+require", _I)
_OUTCOME_STUDY_RE = re.compile(
    r"\b(?:prevalence|proportion|percentage|frequency)\s+of\s+(?:\w+\s+){0,3}?"
    r"(?:ME/CFS|CFS/ME|CFS|myalgic|chronic\s+fatigue\s+syndrome|SEID|ME/CFS-like)", _I)
_NO_COHORT_RE = re.compile(
    r"\b(?:this|our|the\s+present|a|the)\s+(?:\w+\s+)?(?:narrative\s+|systematic\s+|scoping\s+|"
    r"mini[\s-]?|literature\s+|umbrella\s+)?review\b|\bmeta-?analys[ie]s\b|\bcommentary\b|"
    r"\bin\s+vitro\b|\banimal\s+models?\b|\b(?:in\s+)?(?:mice|rats|murine)\b", _I)
_STAT_NEAR_RE = re.compile(
    r"intra-?\s?class|inter-?\s?class|concordance|correlation|coefficient|reliabilit|"
    r"agreement|kappa|\bLin\b", _I)
_STAT_AFTER_RE = re.compile(       # used with .match(text, pos): anchored at pos
    r"\s*(?:[=<>≤≥:]|\(\s*\d|,\s*\d|\d|s\b)|\s+(?:hunt|sedation|scale|score|grant|award|"
    r"values?)\b", _I)
_EXCLUDED_AFTER_RE = re.compile(
    r"^[^.;]{0,40}?\b(?:were|was|are|is|be|being)\s+(?:\w+\s+)?excluded\b", _I)
_GOVERNED_AFTER_RE = re.compile(
    r"^\W{0,3}(?:\w+\W+){0,2}?(?:criteria|criterion|definitions?|(?:was|were)\s+used)\b", _I)
_STAT_ACRONYM_RE = re.compile(
    r"(?:intra-?\s?class|inter-?\s?class|concordance|lin\S{0,2})\s+correlation\s+"
    r"(?:coefficients?\s*)?\(\s*([A-Z]{2,5})\b", _I)
_TAIL_RE = re.compile(
    r"(?:['’]s)?(?:\s*\((?:19|20)\d\d\))?(?:[\s-]+(?:diagnostic|clinical|case|consensus|"
    r"research|revised|ME/CFS|CFS/ME|CFS|ME))*[\s-]+(?:criteria|criterion|case\s+definition|"
    r"definitions?)\b", _I)
_MERGE_GAP_RE = re.compile(r"^[\s,;:/()\[\]\-–]*(?:(?:19|20)\d\d\b[\s,;:/()\[\]\-–]*)?$")
_ACRONYM_RE = re.compile(r"^\W*([A-Z]{2,5})\W*$")
# Full text: mentions after the reference list's heading are citations, never inclusion.
_REFERENCES_RE = re.compile(
    r"^[ \t]*(?:\d+\.?\s*)?(?:references|bibliography|literature\s+cited|works\s+cited|"
    r"reference\s+list)[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)


# --- internal records -------------------------------------------------------------------------

@dataclass(slots=True)
class _Mention:
    def_id: str
    start: int          # absolute offsets in the source text
    end: int
    strong: bool
    ext_end: int = 0    # end extended over a trailing "criteria" / "case definition"


@dataclass(slots=True)
class _Group:
    source: str
    sentence: int                  # sentence index within its source
    mentions: list[_Mention]
    connector: str = "and"         # and | or
    role: str = "background"
    confidence: float = 0.0
    pem_extra: bool = False
    cue: tuple[int, int] | None = None
    why: str = ""

    @property
    def ambiguous_only(self) -> bool:
        return not any(m.strong for m in self.mentions)


@dataclass(slots=True)
class _Analysis:
    source: str
    text: str
    groups: list[_Group] = field(default_factory=list)
    rejected_ambiguous: int = 0
    pem_required_sentence: tuple[int, int] | None = None
    outcome_study: bool = False
    no_cohort_cue: bool = False


# --- classifier -------------------------------------------------------------------------------

class PemClassifier:
    """Rule-based case-definition finder and PEM-status labeller (see the module docstring)."""

    def __init__(self, definitions: Sequence[Definition], *, weak_as: str = "not_required",
                 auto_confidence: float = 0.75) -> None:
        if weak_as not in WEAK_AS:
            raise ValueError(f"weak_as must be one of {WEAK_AS}, not {weak_as!r}")
        if not 0.0 <= auto_confidence <= 1.0:
            raise ValueError(f"auto_confidence must be within 0..1, not {auto_confidence!r}")
        seen: set[str] = set()
        self._defs: dict[str, Definition] = {}
        self._patterns: list[tuple[str, bool, re.Pattern[str]]] = []
        for d in definitions:
            if d.id in seen:
                raise ValueError(f"duplicate case definition id {d.id!r}")
            seen.add(d.id)
            if d.pem not in PEM_STATUSES:
                raise ValueError(f"{d.id}: pem must be one of {PEM_STATUSES}, not {d.pem!r}")
            self._defs[d.id] = d
            for strong, pats in ((True, d.patterns), (False, d.ambiguous)):
                for p in pats:
                    try:
                        self._patterns.append((d.id, strong, re.compile(p, _I)))
                    except re.error as exc:
                        raise ValueError(f"{d.id}: bad pattern {p!r}: {exc}") from exc
        self.weak_as = weak_as
        self.auto_confidence = auto_confidence
        # A literal each pattern cannot match without (see _required_literal): checking it
        # with ``in`` on the lower-cased text skips most regex searches on a typical
        # abstract, which names no definition, without changing any result.
        self._literals = [_required_literal(p.pattern) for _, _, p in self._patterns]

    # -- public API ----------------------------------------------------------------------------

    def find(self, text: str, source: str) -> list[DefinitionUse]:
        """Every definition mention in ``text`` with its role, ordered by start offset."""
        return self._uses(self._analyse(text, source).groups, {source: text})

    def classify(self, texts: Mapping[str, str | None], *, cohort: bool | None) -> PemResult:
        analyses = [self._analyse(texts[s] or "", s) for s in _ordered_sources(texts)]
        groups = [g for a in analyses for g in a.groups]
        srcs = {a.source: a.text for a in analyses}
        if cohort is False:
            return self._not_applicable(groups, srcs, NA_GIVEN,
                                        "No ME/CFS participants (cohort=False)")
        if cohort is None and any(a.no_cohort_cue for a in analyses):
            return self._not_applicable(
                groups, srcs, NA_FROM_TEXT, "The text describes a review, commentary, in-vitro or "
                "animal study, so no ME/CFS participants")
        return self._decide(analyses, groups, srcs)

    # -- analysis ------------------------------------------------------------------------------

    def _analyse(self, text: str, source: str) -> _Analysis:
        out = _Analysis(source=source, text=text)
        if not text:
            return out
        sentences = split_sentences(text)
        out.outcome_study = bool(_OUTCOME_STUDY_RE.search(text))
        out.no_cohort_cue = bool(_NO_COHORT_RE.search(text))
        stat_acronyms = {m.group(1).upper() for m in _STAT_ACRONYM_RE.finditer(text)}
        by_sentence = self._mentions(text, sentences)
        refs = [m.start() for m in _REFERENCES_RE.finditer(text)] if source == "fulltext" else []
        refs_start = refs[-1] if refs else len(text)
        defined_acronyms = _defined_acronyms(text, by_sentence)
        for si, (s0, s1) in enumerate(sentences):
            if s0 >= refs_start:
                break
            sent = text[s0:s1]
            pem_required = bool(
                out.pem_required_sentence is None and _PEM_REQUIRED_SENTENCE_RE.search(sent)
                and not _PEM_REQUIRED_NEG_RE.search(sent)
                and (_PAST_RE.search(sent) or _PROTOCOL_RE.search(sent)))
            mentions = by_sentence.get(si)
            if not mentions:
                if pem_required:
                    out.pem_required_sentence = (s0, s1)
                continue
            kept: list[_Mention] = []
            for m in mentions:
                if m.strong:
                    kept.append(m)
                elif _collides(text, s0, s1, m, stat_acronyms, defined_acronyms):
                    continue        # a statistic, a scale ...: confidently something else
                else:
                    am = _ACRONYM_RE.match(text[m.start:m.end])
                    # an acronym this text defines as this very definition is not ambiguous
                    if am and defined_acronyms.get(am.group(1).upper()) == m.def_id:
                        m.strong = True
                    kept.append(m)
            groups = self._groups(text, source, si, s0, s1, kept)
            if pem_required and any(g.role != "background" for g in groups):
                # "... met the Fukuda criteria, and all were required to report PEM"; a
                # sentence naming definitions only as background describes the definitions
                out.pem_required_sentence = (s0, s1)
            for g in groups:
                if g.ambiguous_only and g.role == "background":
                    out.rejected_ambiguous += len(g.mentions)
                    continue
                out.groups.append(g)
        # full text: the reference list only cites definitions
        for si in sorted(by_sentence):
            s0, s1 = sentences[si]
            if s0 < refs_start:
                continue
            for g in self._groups(text, source, si, s0, s1,
                                  [m for m in by_sentence[si] if m.strong]):
                g.role, g.why, g.confidence, g.pem_extra = "background", "reference list", 0.0, \
                    False
                out.groups.append(g)
        return out

    def _mentions(self, text: str,
                  sentences: list[tuple[int, int]]) -> dict[int, list[_Mention]]:
        """Pattern matches per sentence index: overlaps resolved, same-definition runs merged."""
        starts = [s for s, _ in sentences]
        cands: list[_Mention] = []
        lowered = text.lower()
        for (def_id, strong, pat), literal in zip(self._patterns, self._literals, strict=True):
            if literal and literal not in lowered:
                continue
            for m in pat.finditer(text):
                if m.end() > m.start():
                    cands.append(_Mention(def_id, m.start(), m.end(), strong))
        # strong before ambiguous, longer before shorter, then position and id: deterministic.
        cands.sort(key=lambda c: (not c.strong, -(c.end - c.start), c.start, c.def_id))
        chosen: list[_Mention] = []
        for c in cands:
            clash = False
            for k in chosen:
                if c.start < k.end and k.start < c.end:
                    if k.def_id == c.def_id:
                        k.start, k.end = min(k.start, c.start), max(k.end, c.end)
                        k.strong = k.strong or c.strong
                    clash = True
                    break
            if not clash:
                chosen.append(c)
        chosen.sort(key=lambda c: (c.start, c.end))
        per: dict[int, list[_Mention]] = {}
        for i, c in enumerate(chosen):
            si = _sentence_index(starts, c.start)
            if si < 0 or c.end > sentences[si][1]:
                continue                                   # crosses a sentence boundary
            limit = sentences[si][1]
            if i + 1 < len(chosen):
                limit = min(limit, max(c.end, chosen[i + 1].start))
            t = _TAIL_RE.match(text, c.end, limit)
            c.ext_end = t.end() if t else c.end
            lst = per.setdefault(si, [])
            if lst and lst[-1].def_id == c.def_id and \
                    _MERGE_GAP_RE.match(text[lst[-1].ext_end:c.start]):
                lst[-1].end = max(lst[-1].end, c.end)
                lst[-1].ext_end = max(lst[-1].ext_end, c.ext_end)
                lst[-1].strong = lst[-1].strong or c.strong
            else:
                lst.append(c)
        return per

    def _groups(self, text: str, source: str, si: int, s0: int, s1: int,
                mentions: list[_Mention]) -> list[_Group]:
        groups: list[_Group] = []
        for m in mentions:
            if groups:
                last = groups[-1].mentions[-1]
                gap = text[last.ext_end:m.start]
                if not _BREAK_RE.search(gap):
                    groups[-1].mentions.append(m)
                    continue
            groups.append(_Group(source, si, [m]))
        sentence = text[s0:s1]
        n_who_met = 0
        prev_end = s0
        for g in groups:
            clause = text[prev_end:g.mentions[0].start]
            if _WHO_MET_RE.search(clause):
                n_who_met += 1
            prev_end = g.mentions[-1].ext_end
        prev_end = s0
        for gi, g in enumerate(groups):
            first, last = g.mentions[0], g.mentions[-1]
            clause = text[prev_end:first.start]
            after_end = groups[gi + 1].mentions[0].start if gi + 1 < len(groups) else s1
            after = text[last.ext_end:after_end]
            prev_end = last.ext_end
            g.connector = self._connector(text, g, clause)
            self._role(text, g, sentence, clause, after, s0, s1, n_who_met)
            if g.role in ("inclusion", "subgroup") and _PEM_EXTRA_RE.search(after):
                g.pem_extra = True
                g.confidence = min(g.confidence, PEM_EXTRA_CAP)
        return groups

    @staticmethod
    def _connector(text: str, g: _Group, clause: str) -> str:
        if len(g.mentions) == 1:
            return "and"
        verbs = list(_INCL_VERB_RE.finditer(clause))
        prefix = clause[verbs[-1].end():] if verbs else clause[-30:]
        gaps = [text[a.ext_end:b.start] for a, b in zip(g.mentions, g.mentions[1:], strict=False)
                if a.def_id != b.def_id]
        if _OR_RE.search(prefix) or any(_OR_RE.search(x) for x in gaps):
            return "or"
        if any(_SLASH_ONLY_RE.match(x) for x in gaps):
            return "or"
        return "and"

    def _role(self, text: str, g: _Group, sentence: str, clause: str, after: str, s0: int,
              s1: int, n_who_met: int) -> None:
        first = g.mentions[0]
        local = clause[-45:]
        strong_local = bool(_PART_VERB_RE.search(clause) or _STRONG_INCL_RE.search(clause))
        g.cue = _cue_span(text, s0, s1, first.start, g.mentions[-1].ext_end)
        if _NEGATION_RE.search(local) or _EXCLUDED_AFTER_RE.search(after):
            g.role, g.why = "background", "negated or exclusion"
            return
        if g.ambiguous_only and not _INCL_VERB_RE.search(clause[-60:]) and \
                not _GOVERNED_AFTER_RE.search(after):
            # a bare acronym / ambiguous form counts only as the object of a use cue
            g.role, g.why = "background", "ambiguous form not governed by a use cue"
            return
        if _GENERIC_RE.search(sentence) and not _PAST_RE.search(sentence) and \
                not _PROTOCOL_RE.search(sentence):
            g.role, g.why = "background", "generic statement"
            return
        if _OUTCOME_RE.search(clause):
            g.role, g.why = "background", "definition used as an outcome"
            return
        if _SUBGROUP_RE.search(clause) and _INCL_VERB_RE.search(sentence):
            g.role, g.why, g.confidence = "subgroup", "subgroup", SUBGROUP_CAP
        elif _COMPARE_GROUPS_RE.search(sentence) and _WHO_MET_RE.search(clause) and (
                n_who_met >= 2 or re.search(r"\b(?:those|only|also)\b", clause, _I)):
            g.role, g.why, g.confidence = "subgroup", "comparison of patient groups", \
                SUBGROUP_CAP
        elif _BACKGROUND_RE.search(sentence) and not strong_local:
            g.role, g.why = "background", "background statement"
            return
        elif _COMPARE_DEFS_RE.search(clause) and not _WHO_MET_RE.search(clause):
            g.role, g.why = "background", "definitions compared"
            return
        elif _PART_VERB_RE.search(sentence) or _STRONG_INCL_RE.search(sentence):
            g.role, g.why, g.confidence = "inclusion", "explicit inclusion wording", C_STRONG
        elif _PAREN_BEFORE_RE.search(text[max(s0, first.start - 60):first.start]):
            g.role, g.why, g.confidence = "inclusion", "definition in parentheses after the " \
                "cohort", C_PAREN
        elif _INCL_VERB_RE.search(sentence):
            g.role, g.why, g.confidence = "inclusion", "weak inclusion wording", C_WEAK
        else:
            g.role, g.why = "background", "no inclusion wording"
            return
        if g.ambiguous_only:
            g.confidence -= AMBIGUOUS_PENALTY

    # -- decision ------------------------------------------------------------------------------

    def _status(self, def_id: str) -> str:
        """Does meeting this definition guarantee PEM? ``yes`` / ``no`` / ``both`` (a weak
        definition with ``weak_as = "mixed"``) / ``unknown`` (``weak_as = "unclear"``)."""
        pem = self._defs[def_id].pem
        if pem == "required":
            return "yes"
        if pem == "weak":
            return {"required": "yes", "not_required": "no", "mixed": "both",
                    "unclear": "unknown"}[self.weak_as]
        return "no"

    def _pem_requiring(self, groups: Iterable[_Group]) -> list[_Group]:
        return [g for g in groups
                if any(self._status(m.def_id) in ("yes", "both") for m in g.mentions)]

    def _paths(self, g: _Group, doc_pem: bool) -> list[tuple[tuple[str, ...], str]]:
        ids = _unique(m.def_id for m in g.mentions)
        extra = g.pem_extra or doc_pem
        if g.connector == "or":
            return [((i,), "yes" if extra else self._status(i)) for i in ids]
        statuses = {self._status(i) for i in ids}
        if "yes" in statuses or extra:
            return [(tuple(ids), "yes")]
        for st in ("both", "unknown"):
            if st in statuses:
                return [(tuple(ids), st)]
        return [(tuple(ids), "no")]

    def _decide(self, analyses: list[_Analysis], groups: list[_Group],
                srcs: Mapping[str, str]) -> PemResult:
        uses = self._uses(groups, srcs)
        incl = [g for g in groups if g.role == "inclusion"]
        subs = [g for g in groups if g.role == "subgroup"]
        doc_pem = any(a.pem_required_sentence for a in analyses)
        outcome = any(a.outcome_study for a in analyses)
        if not incl:
            sub_req = self._pem_requiring(subs)
            if sub_req:
                conf = min(SUBGROUP_ONLY, *(g.confidence for g in sub_req))
                names = ", ".join(self._names(sub_req))
                return self._result("mixed", conf, uses, f"A subgroup also met {names} (PEM "
                                    "required), but no definition is stated for the rest")
            doubt = [g for g in groups if g.role == "background"]
            rejected = sum(a.rejected_ambiguous for a in analyses)
            if doubt or rejected or subs or doc_pem:
                bits = []
                if doubt:
                    bits.append("definitions named only as background ("
                                + ", ".join(self._names(doubt)) + ")")
                if subs:
                    bits.append("a subgroup definition without PEM")
                if rejected:
                    bits.append(f"{rejected} ambiguous form(s) without context")
                if doc_pem:
                    bits.append("PEM required but no definition named")
                return self._result("unclear", UNCLEAR_DOUBT, uses,
                                    "ME/CFS cohort, no definition used for inclusion is "
                                    "stated; doubt: " + "; ".join(bits), doubt=True)
            return self._result("unclear", UNCLEAR_CLEAN, uses,
                                "ME/CFS cohort, but no case definition is named")

        paths: list[tuple[tuple[str, ...], str, _Group]] = []
        for g in incl:
            paths.extend((ids, st, g) for ids, st in self._paths(g, doc_pem))
        statuses = {st for _, st, _ in paths}
        # agreeing groups add up (the best one counts); a mixed label is as weak as its parts
        conf = max(g.confidence for g in incl) if len(statuses) == 1 else \
            min(g.confidence for g in incl)
        weak_used = any(self._defs[i].pem == "weak" for ids, _, _ in paths for i in ids)
        extra_used = any(st == "yes" and all(self._status(i) != "yes" for i in ids)
                         for ids, st, _ in paths)
        if extra_used:
            conf = min(conf, PEM_EXTRA_CAP)
        if statuses == {"yes"}:
            label = "required"
            reason = "Every inclusion path requires PEM: " + self._path_text(paths)
        elif "unknown" in statuses:
            label = "unclear"
            reason = ("A weak definition decides the inclusion path, and the policy counts it "
                      "as unclear: " + self._path_text(paths))
        elif statuses == {"no"}:
            sub_req = self._pem_requiring(subs)
            if sub_req:
                label = "mixed"
                conf = min(conf, *(g.confidence for g in sub_req))
                reason = (f"Inclusion by {self._path_text(paths)} does not require PEM, but a "
                          f"subgroup also met {', '.join(self._names(sub_req))}")
            else:
                label = "not_required"
                reason = "No inclusion path requires PEM: " + self._path_text(paths)
        else:
            label = "mixed"
            src = {(g.source, g.sentence) for _, _, g in paths}
            if len(src) > 1:
                conf -= CROSS_SENTENCE_PENALTY
                reason = "Cohorts or paths stated in different sentences differ on PEM: "
            elif len({id(g) for _, _, g in paths}) > 1:
                reason = "Cohorts selected by definitions that differ on PEM: "
            else:
                reason = "Participants could enter by definitions that differ on PEM: "
            reason += self._path_text(paths)
        if weak_used and label in ("required", "not_required"):
            conf -= WEAK_PENALTY
            reason += f" (a weak definition counts as {self.weak_as} by policy)"
        if outcome:
            conf -= OUTCOME_PENALTY
            reason += "; the text reports ME/CFS prevalence, check the definition selected " \
                      "participants"
        return self._result(label, conf, uses, reason)

    def _not_applicable(self, groups: list[_Group], srcs: Mapping[str, str], conf: float,
                        why: str) -> PemResult:
        uses = [DefinitionUse(u.id, u.pem, "background", u.evidence)
                for u in self._uses(groups, srcs)]
        reason = why + (f"; {len(uses)} definition mention(s) reported as background"
                        if uses else "")
        return self._result("not_applicable", conf, uses, reason)

    def _result(self, label: str, conf: float, uses: list[DefinitionUse], reason: str, *,
                doubt: bool = False) -> PemResult:
        conf = round(max(0.0, min(1.0, conf)), 2)
        route = "auto" if conf >= self.auto_confidence and not doubt else "review"
        return PemResult(label, conf, route, tuple(uses), reason.rstrip(".") + ".")

    # -- helpers -------------------------------------------------------------------------------

    def _uses(self, groups: Iterable[_Group], texts: Mapping[str, str]) -> list[DefinitionUse]:
        out: list[DefinitionUse] = []
        for g in groups:
            for m in g.mentions:
                start, end = m.start, m.ext_end or m.end
                if g.role != "background" and g.cue is not None:
                    start, end = min(start, g.cue[0]), max(end, g.cue[1])
                src_text = texts.get(g.source)
                if src_text is None:
                    continue
                out.append(DefinitionUse(m.def_id, self._defs[m.def_id].pem, g.role,
                                         Evidence(src_text[start:end], g.source, start, end)))
        rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
        out.sort(key=lambda u: (rank.get(u.evidence.source, len(rank)), u.evidence.source,
                                u.evidence.start, u.evidence.end, u.id))
        return out

    def _names(self, groups: Iterable[_Group]) -> list[str]:
        return _unique(self._defs[m.def_id].name for g in groups for m in g.mentions)

    def _path_text(self, paths: list[tuple[tuple[str, ...], str, _Group]]) -> str:
        seen: list[str] = []
        for ids, st, _g in paths:
            names = " + ".join(self._defs[i].name for i in ids)
            pems = "/".join(self._defs[i].pem for i in ids)
            extra = " plus explicit PEM" if st == "yes" and all(
                self._status(i) != "yes" for i in ids) else ""
            txt = f"{names} ({pems}){extra}"
            if txt not in seen:
                seen.append(txt)
        return "; ".join(seen)


# --- module helpers ---------------------------------------------------------------------------

def _ordered_sources(texts: Mapping[str, str | None]) -> list[str]:
    known = [s for s in SOURCE_ORDER if s in texts]
    return known + sorted(s for s in texts if s not in SOURCE_ORDER)


def _sentence_index(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= pos:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _defined_acronyms(text: str, by_sentence: dict[int, list[_Mention]]) -> dict[str, str]:
    """Acronyms the text defines as a case definition ("... Criteria (ICC)") -> definition id."""
    out: dict[str, str] = {}
    for lst in by_sentence.values():
        for m in lst:
            if not m.strong:
                continue
            am = re.match(r"\s*\(\s*([A-Z]{2,5})\s*[);,]", text[m.end:m.end + 12])
            if am:
                out.setdefault(am.group(1).upper(), m.def_id)
            inner = re.search(r"\(\s*([A-Z]{2,5})\s*\)\s*$", text[m.start:m.end])
            if inner:
                out.setdefault(inner.group(1).upper(), m.def_id)
    return out


def _collides(text: str, s0: int, s1: int, m: _Mention, stat_acronyms: set[str],
              defined: Mapping[str, str]) -> bool:
    """True when an ambiguous mention reads as something else (a statistic, a scale ...)."""
    if _STAT_AFTER_RE.match(text, m.end, s1):
        return True
    before = text[max(s0, m.start - 60):m.start]
    after = text[m.end:min(s1, m.end + 40)]
    if _STAT_NEAR_RE.search(before) or _STAT_NEAR_RE.search(after):
        return True
    am = _ACRONYM_RE.match(text[m.start:m.end])
    if am:
        acr = am.group(1).upper()
        if acr in stat_acronyms and acr not in defined:
            return True
    return False


def _cue_span(text: str, s0: int, s1: int, m_start: int, m_end: int) -> tuple[int, int] | None:
    """The inclusion cue nearest the mention (preferring one before it) in its sentence."""
    before = [c for c in _INCL_VERB_RE.finditer(text, s0, m_start) if m_start - c.start() <= 120]
    if before:
        c = before[-1]
        return c.start(), c.end()
    after = [c for c in _INCL_VERB_RE.finditer(text, m_end, s1) if c.start() - m_end <= 80]
    if after:
        return after[0].start(), after[0].end()
    return None
