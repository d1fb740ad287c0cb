"""Wording checks on a draft's current text, generated or edited; rules only, deterministic.

1. ``causal_claim_non_randomised``: cause-and-effect words ("causes", "leads to", "improves",
   "effective" ...) outside quotation marks, in a paper that is not a randomised trial.
2. ``mecfs_claim_without_cohort``: a statement about people with ME/CFS ("ME/CFS patients",
   "people with CFS" ...) outside quotation marks, in a paper with no ME/CFS cohort.
3. ``unsupported_sentence``: a sentence of summary, relevance, limitations or pem that is not
   one of the generated sentences (compared after normalising case, spaces and quotes) and
   quotes nothing from the paper.
4. ``retracted``: the paper is retracted; says whether the summary still says so.

Sentences are split with the PEM reader's splitter, which does not split after "e.g.",
"et al.", "vs.", initials or inside decimals and "n = 24".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from classifiers.pem import split_sentences

from .content import PROSE_FIELDS, Flag, Sentence

MIN_QUOTE = 12   # shortest quotation (characters) that counts as quoting the paper

_CAUSAL = re.compile(
    r"\b(?:caus(?:es|ed|ing)|(?<!the )(?<!a )cause(?! and effect| of)|(?:leads?|led|leading) "
    r"to|result(?:s|ed|ing)? in|due to|improv(?:e|es|ed|ing)|reduc(?:e|es|ing)|"
    r"prevent(?:s|ed|ing)?|effective(?:ly|ness)?|efficacious|(?:is|are|was|were) "
    r"responsible for|triggers?|induc(?:e|es|ed|ing)|cures?|cured|restores?)\b", re.IGNORECASE)
_MECFS_NAME = (r"(?:(?-i:ME/CFS|CFS/ME|ME-CFS|CFS|ME|SEID)|chronic fatigue syndrome|"
               r"myalgic encephalo(?:myelitis|pathy)(?:/chronic fatigue syndrome)?|"
               r"systemic exertion intolerance disease)")
_PEOPLE = (r"(?:patients|people|persons|individuals|adults|children|adolescents|"
           r"participants|sufferers|those|women|men|subjects)")
_MECFS_CLAIM = re.compile(
    rf"\b{_PEOPLE}\s+(?:with|who have|who had|living with|affected by|suffering from)\s+"
    rf"{_MECFS_NAME}(?![\w/-])|(?<![\w/-]){_MECFS_NAME}\s+(?:patients|sufferers|cohorts?)\b",
    re.IGNORECASE)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]*’")
_NO_COHORT_DESIGNS = frozenset({"review", "in_vitro", "animal", "commentary", "guideline"})


def normalise(text: str) -> str:
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    return " ".join(text.lower().split()).rstrip(" .")


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def _unquoted(sentence: str) -> str:
    return _QUOTED.sub(" ", sentence)


def _quotes(sentence: str) -> list[str]:
    return [q[1:-1].strip() for q in _QUOTED.findall(sentence)]


def has_cohort(classification: Mapping[str, Any]) -> bool:
    """Whether the paper has ME/CFS participants of its own, by its classification.

    No cohort: no human participants, a design without participants (review, in vitro,
    animal, commentary, guideline), a paper not about ME/CFS, or a design the rules could not
    tell ("other") that the PEM reader also found no cohort in.
    """
    study = classification.get("study") or {}
    relevance = (classification.get("relevance") or {}).get("label")
    pem = (classification.get("pem") or {}).get("label")
    design = study.get("design")
    return not (study.get("human_participants") is False
                or design in _NO_COHORT_DESIGNS
                or (design in (None, "other") and pem in (None, "not_applicable"))
                or relevance in ("adjacent", "not_relevant"))


def _sources(sentences: Iterable[Sentence], record: Mapping[str, Any] | None) -> list[str]:
    if record is not None:
        return [t for k in ("title", "abstract", "fulltext") if isinstance(t := record.get(k), str)]
    return [span.text for s in sentences for span in s.spans if span.source != "record"]


def check_wording(fields: Mapping[str, str], sentences: Sequence[Sentence],
                  classification: Mapping[str, Any], *,
                  record: Mapping[str, Any] | None = None) -> list[Flag]:
    """Flags for the draft's current ``fields``; ``sentences`` are the generated ones.

    ``record`` (title, abstract): lets a curator's own quotation of the paper count as
    support; without it, only quotations of the generated sentences' spans count.
    """
    study = classification.get("study") or {}
    design = study.get("design") or "unknown"
    cohort = has_cohort(classification)
    generated: dict[str, Sentence] = {}
    for s in sentences:
        for piece in sentences_of(s.text):
            generated.setdefault(normalise(piece), s)
    sources = _sources(sentences, record)
    flags: list[Flag] = []
    for field in PROSE_FIELDS:
        for sentence in sentences_of(fields.get(field) or ""):
            plain = _unquoted(sentence)
            causal = _CAUSAL.search(plain)
            if causal and design != "rct":
                flags.append(Flag(
                    "causal_claim_non_randomised", field, sentence,
                    f"“{causal.group()}” states cause and effect, but the study design is "
                    f"{design.replace('_', ' ')}, not a randomised trial: describe an "
                    "association, or quote the authors."))
            claim = _MECFS_CLAIM.search(plain)
            if claim and not cohort:
                flags.append(Flag(
                    "mecfs_claim_without_cohort", field, sentence,
                    f"“{claim.group()}”: the paper has no ME/CFS cohort "
                    f"({design.replace('_', ' ')}), so it cannot show anything about people "
                    "with ME/CFS directly."))
            match = generated.get(normalise(sentence))
            quoted = any(len(q) >= MIN_QUOTE and any(q in src for src in sources)
                         for q in _quotes(sentence))
            if (match is None or not match.spans) and not quoted:
                flags.append(Flag(
                    "unsupported_sentence", field, sentence,
                    "This sentence is not one the generator wrote from the paper and quotes "
                    "nothing from it: check it against the abstract, or quote the source."))
    if classification.get("retracted") or (record is not None and record.get("is_retracted")):
        summary = fields.get("summary") or ""
        said = next((s for s in sentences_of(summary) if "retract" in s.lower()), "")
        flags.append(Flag(
            "retracted", "summary", said,
            "The paper is retracted: publish it only with the retraction notice."
            if said else "The paper is retracted, but the summary no longer says so."))
    return flags
