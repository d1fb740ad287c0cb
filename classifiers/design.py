"""Study design and human participants, from publication types, MeSH and text.

Rules, in order of how much they can be trusted: NLM's publication types (when present;
most new records have none), then MeSH check tags (Animals without Humans), then cues in
the title and abstract. A paper without human participants (in vitro, animal, review,
guideline, commentary) has no ME/CFS cohort, so a PEM badge does not apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DESIGNS = ("rct", "trial_other", "observational", "case_report", "qualitative", "in_vitro",
           "animal", "review", "guideline", "commentary", "other")
NO_PARTICIPANTS = frozenset({"in_vitro", "animal", "review", "guideline", "commentary"})
WITH_PARTICIPANTS = frozenset({"rct", "trial_other", "observational", "case_report",
                               "qualitative"})


#: Publication types of notices about another paper: no participants of their own.
NOTICES = frozenset({"Retraction of Publication", "Published Erratum",
                     "Expression of Concern"})

# Publication types (NLM) -> design, most specific first.
_PUBTYPE_RULES: tuple[tuple[str, str], ...] = (
    ("Retraction of Publication", "other"),
    ("Published Erratum", "other"),
    ("Expression of Concern", "other"),
    ("Randomized Controlled Trial", "rct"),
    ("Systematic Review", "review"),
    ("Meta-Analysis", "review"),
    ("Practice Guideline", "guideline"),
    ("Guideline", "guideline"),
    ("Consensus Development Conference", "guideline"),
    ("Case Reports", "case_report"),
    ("Clinical Trial Protocol", "trial_other"),
    ("Clinical Trial, Phase I", "trial_other"),
    ("Clinical Trial, Phase II", "trial_other"),
    ("Clinical Trial, Phase III", "trial_other"),
    ("Clinical Trial, Phase IV", "trial_other"),
    ("Controlled Clinical Trial", "trial_other"),
    ("Pragmatic Clinical Trial", "trial_other"),
    ("Clinical Trial", "trial_other"),
    ("Review", "review"),
    ("Editorial", "commentary"),
    ("Comment", "commentary"),
    ("Letter", "commentary"),
)


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts), re.IGNORECASE)


_NOTICE_TITLE = re.compile(r"^\s*(?:correction|erratum|corrigendum|retraction(?: note)?|"
                           r"retracted|expression of concern|notification)\b\s*[:.]",
                           re.IGNORECASE)

_RCT = _rx(r"\brandomi[sz]ed(?:,)? (?:\w+[- ]){0,3}(?:controlled|trial|crossover)",
           r"\bdouble[- ]blind", r"\bplacebo[- ]controlled\b",
           r"\bwere randomi[sz]ed\b", r"\brandomly (?:assigned|allocated)\b")

_TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("observational", _rx(r"\bmendelian randomi[sz]ation\b")),
    ("review", _rx(r"\bsystematic(?:ally)? review", r"\bmeta-?analys[ie]s\b",
                   r"\bresearch progress\b", r"\brecent advances\b",
                   r"\bstate[- ]of[- ]the[- ]art review\b",
                   r"\bthis (?:article|paper|narrative) (?:reviews|summari[sz]es)\b",
                   r"\bwe (?:summari[sz]e|synthesi[sz]e) (?:the )?(?:current|recent|existing)\b",
                   r"\bscoping review\b", r"\bnarrative review\b", r"\bliterature review\b",
                   r"\bumbrella review\b", r"\bthis review\b", r"\bwe review\b",
                   r"\bin this review\b", r"^\s*review\b")),
    ("guideline", _rx(r"\bclinical practice guideline", r"\bconsensus statement\b",
                      r"\bguidelines? (?:for|on) the (?:diagnosis|management)\b")),
    ("commentary", _rx(r"\bcommentary\b", r"\beditorial\b", r"\bviewpoint\b",
                       r"\bperspective (?:article|piece)\b", r"\bletter to the editor\b",
                       r"\bin this (?:commentary|perspective|essay)\b")),
    ("rct", _RCT),
    ("trial_other", _rx(r"\bsingle[- ]arm\b", r"\bopen[- ]label\b",
                        r"\b(?:pilot|feasibility) (?:trial|study of an intervention)\b",
                        r"\bphase (?:i|ii|iii|1|2|3)\b (?:trial|study)",
                        r"\bstudy protocol\b", r"\btrial protocol\b",
                        r"\bnon-?randomi[sz]ed (?:controlled )?trial\b")),
    ("case_report", _rx(r"\bcase report\b", r"\bwe (?:report|describe|present) (?:a|the) case",
                        r"\bcase of a \d+[- ]year[- ]old\b",
                        r"\ba \d+[- ]year[- ]old (?:man|woman|male|female|boy|girl)\b")),
    ("qualitative", _rx(r"\bqualitative\b", r"\bsemi-?structured interviews?\b",
                        r"\bthematic analysis\b", r"\bfocus groups?\b",
                        r"\binterpretative phenomenological\b")),
)

_ANIMAL = _rx(r"\bmice\b", r"\bmouse\b", r"\bmurine\b", r"\brats?\b", r"\brodents?\b",
              r"\bzebrafish\b", r"\bdrosophila\b", r"\bc\. elegans\b", r"\bporcine\b",
              r"\bbovine\b", r"\bcanine\b", r"\bfeline\b", r"\bprimates?\b", r"\bmacaques?\b",
              r"\bpiglets?\b", r"\bsheep\b", r"\bin vivo model\b", r"\banimal model\b")
_IN_VITRO = _rx(r"\bin vitro\b", r"\bcell lines?\b", r"\bcultured (?:cells|human|neurons)",
                r"\bcell[- ]free supernatants?\b", r"\bcell cultures?\b",
                r"\bbiofilms?\b", r"\bstrains? of\b", r"\bin silico\b")
_STUDIED_PEOPLE = _rx(r"\bpatients?\b", r"\bparticipants?\b", r"\bsubjects\b",
                      r"\bvolunteers?\b", r"\bcohort\b", r"\brespondents?\b",
                      r"\bhealthy controls?\b", r"\bpeople with\b", r"\bsurvey\b",
                      r"\b[nN] ?= ?\d+", r"\bcases?\b and controls\b")
_HUMANS = _rx(_STUDIED_PEOPLE.pattern, r"\badults?\b", r"\bchildren\b", r"\badolescents?\b",
              r"\bwomen\b", r"\bmen\b", r"\bindividuals\b", r"\bdrivers\b",
              r"\bworkers\b", r"\bemployees\b", r"\bnurses\b", r"\bstudents\b",
              r"\bathletes\b", r"\bpregnan")
_NON_STUDY = _rx(r"\balloys?\b", r"\bwelded\b", r"\bfatigue (?:life|crack|strength|"
                 r"behaviou?r|testing)\b", r"\bconcrete\b", r"\bsteel\b", r"\bcomposite "
                 r"materials?\b", r"\bsimulation\b", r"\balgorithm\b")


@dataclass(frozen=True, slots=True)
class DesignResult:
    design: str
    human_participants: bool | None
    reason: str


def _participants(design: str) -> bool | None:
    if design in NO_PARTICIPANTS:
        return False
    if design in WITH_PARTICIPANTS:
        return True
    return None


def classify_design(title: str, abstract: str, publication_types: Iterable[str] = (),
                    mesh: Iterable[str] = ()) -> DesignResult:
    """The study design of one paper and whether it has human participants."""
    pubtypes = set(publication_types)
    for pubtype, design in _PUBTYPE_RULES:
        if pubtype in pubtypes:
            if pubtype in NOTICES:
                return DesignResult("other", False, f"a notice ({pubtype}), not a study")
            if design == "trial_other" and _RCT.search(abstract):
                design = "rct"
            return DesignResult(design, _participants(design), f"publication type {pubtype}")
    if _NOTICE_TITLE.search(title):
        return DesignResult("other", False, "a notice about another paper, not a study")
    text = f"{title}\n{abstract}"
    descriptors = set(mesh)
    humans = bool(_HUMANS.search(text)) or "Humans" in descriptors
    if "Animals" in descriptors and "Humans" not in descriptors:
        return DesignResult("animal", False, "MeSH Animals without Humans")
    for design, pattern in _TEXT_RULES:
        match = pattern.search(text)
        if match:
            return DesignResult(design, _participants(design), f"text: {match.group(0)!r}")
    animal = _ANIMAL.search(text)
    if animal and not humans:
        return DesignResult("animal", False, f"text: {animal.group(0)!r}")
    in_vitro = _IN_VITRO.search(text)
    if in_vitro and not _STUDIED_PEOPLE.search(text):
        return DesignResult("in_vitro", False, f"text: {in_vitro.group(0)!r}")
    if humans:
        return DesignResult("observational", True, "human participants, no trial or review cue")
    if _NON_STUDY.search(text):
        return DesignResult("other", False, "not a study of people")
    return DesignResult("other", None, "no design cue")
