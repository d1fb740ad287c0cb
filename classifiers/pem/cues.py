"""The PEM reader's cue vocabulary: regular expressions for roles, connectors, PEM terms."""

from __future__ import annotations

import re

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
PEM_TERM = (
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
    r"obligatory\s+|compulsory\s+)?" + PEM_TERM, _I)
_PEM_REQ_WORDS = (
    r"(?:\brequired\b|\brequirement\b|\bmandatory\b|\bcompulsory\b|\bobligatory\b|"
    r"\binclusion\s+criteri\w*|\b(?:had|have|has)\s+to\s+(?:have|report|experience|exhibit)\b|"
    r"\bmust\s+(?:have|report|experience|exhibit)\b|\bwere\s+included\s+if\b|\beligib\w*)")
_PEM_REQUIRED_SENTENCE_RE = re.compile(
    PEM_TERM + r"[^.;]{0,60}?" + _PEM_REQ_WORDS + "|" + _PEM_REQ_WORDS + r"[^.;]{0,60}?"
    + PEM_TERM, _I)
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
#: rules 2, the double negative: "who did not meet / not fulfilling X" ...
_NOT_MEETING_RE = re.compile(
    r"\b(?:not|never)\s+(?:\w+\s+){0,1}?(?:meet|met|meeting|fulfil\w*|satisf\w*|fit|"
    r"fitting)\b[^.;]{0,30}$", _I)
#: ... "were excluded" / "were not included" (after the definition) ...
_NOT_ADMITTED_AFTER_RE = re.compile(
    r"^[^.;]{0,80}?\b(?:were|was|are|is|will\s+be|have\s+been)\s+(?:also\s+)?(?:excluded|"
    r"ineligible|not\s+(?:included|enrolled|eligible|recruited|invited|considered))\b", _I)
#: ... or "excluded if they did not meet X" (before it)
_EXCLUDED_IF_RE = re.compile(
    r"\b(?:excluded|ineligible|not\s+eligible)\s+(?:\w+\s+){0,2}?(?:if|when|where)\b", _I)
#: rules 2: "we used / applied the X (to select ...)": X selected the participants
_WE_USED_RE = re.compile(
    r"\b(?:we|the\s+authors)\s+(?:\w+\s+)?(?:used|applied|employed|adopted)\s+"
    r"(?:the\s+|both\s+the\s+|either\s+the\s+)?[^.;]{0,15}$", _I)
#: ... unless what follows says it was used for something else
_NOT_SELECTING_AFTER_RE = re.compile(
    r"^[^.;]{0,60}?\b(?:as\s+(?:an?\s+)?(?:outcome|comparison|secondary|exploratory)|"
    r"to\s+(?:characteri[sz]e|classify|compare|describe|sub-?group|stratify)|at\s+follow)",
    _I)
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

# Full-text reader only (policy-pinned, see classifiers/fulltext_reader.py).
_FT_CHARACTERISE_RE = re.compile(
    r"\b(?:also|additionally|further|secondarily|subsequently|post\s+hoc|retrospectively)\s+"
    r"(?:\w+\s+){0,3}?(?:classified|categori[sz]ed|characteri[sz]ed|assessed|evaluated|"
    r"examined|determined|compared|stratified|sub-?grouped|checked)\b|"
    r"\b(?:assess|assessed|determine|determined|evaluate|evaluated|examine|examined|record|"
    r"recorded|check|checked|establish|established)\s+(?:\w+\s+){0,3}?(?:whether|if)\b|"
    r"\bto\s+(?:characteri[sz]e|describe|classify|categori[sz]e)\b|"
    r"\bfor\s+(?:characteri[sz]ation|descriptive\s+purposes|comparison)\b|"
    r"\bas\s+an?\s+(?:secondary\s+|exploratory\s+)?outcome\b", _I)
_FT_EARLIER_RE = re.compile(
    r"\b(?:previous|prior|earlier|original|parent|an\s+other|another|first|pilot)\s+"
    r"(?:\w+\s+){0,2}?(?:study|trial|cohort|report|work|paper|publication|investigation)\b"
    r"(?![^.;]{0,40}\b(?:were|was)\s+(?:recruited|included|enrolled|selected)\b)|"
    r"\bpreviously\s+(?:reported|published|found|showed|shown|demonstrated)\b", _I)
#: rules 2: another study named by its acronym or CamelCase name applied the definition
#: ("DecodeME applied stringent clinical criteria (CCC or NAM)", "PACE used the Oxford
#: criteria"): case-sensitive, at least two capitals, never "We" / "Our" / "This"
_FT_NAMED_STUDY_RE = re.compile(
    r"\b(?!(?:ME|CFS|ME/CFS|CFS/ME|SEID|IOM|NAM|CCC|ICC|CDC|NICE|WHO)\b)"
    r"[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?:\s+(?:study|studies|cohort|consortium|trial|"
    r"biobank|project|programme|program))?\s+(?:applied|used|employed|adopted|required)\b")
_FT_PRESENT_RE = re.compile(
    r"\b(?:this|the\s+present|the\s+current|our\s+current)\s+(?:study|trial|analysis|work)\b|"
    r"\bhere\b|\bin\s+the\s+present\b", _I)
