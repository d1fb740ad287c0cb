"""The PEM badge: its standard texts per label, and the PEM field's quoted evidence.

The badge means one thing only (domain notes, section 1): post-exertional malaise was an
explicit required criterion for including participants. The explanations below say so in
the same words on every entry; the sentences after them quote the text that decided it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from classifiers.pem import PEM_TERM, split_sentences

from .content import Sentence, SourceSpan, text_span

TITLES = {
    "required": "PEM required",
    "not_required": "PEM not required",
    "mixed": "PEM required for some",
    "unclear": "PEM unclear",
    "not_applicable": "PEM not applicable",
}

#: The standard explanation of each badge, sentence by sentence.
EXPLANATIONS: dict[str, tuple[str, ...]] = {
    "required": (
        "PEM required: post-exertional malaise (PEM) was an explicit required criterion "
        "for including participants.",
        "The badge does not mean that PEM was measured or studied."),
    "not_required": (
        "PEM not required: participants could be included without post-exertional malaise "
        "(PEM), because every case definition used to include them treats PEM as optional "
        "or leaves it out.",
        "Some participants may have had PEM, but it was not a requirement."),
    "mixed": (
        "PEM required for some: participants entered the study by paths that differ on "
        "post-exertional malaise (PEM), such as either of two case definitions, or a "
        "subgroup that met a stricter one.",
        "Results for the whole group may include people without PEM."),
    "unclear": (
        "PEM unclear: the paper studies people with ME/CFS, but its text does not say which "
        "case definition selected them.",
        "Whether PEM was required is unknown; the full text may say."),
    "not_applicable": (
        "PEM not applicable: the paper has no ME/CFS participants of its own (for "
        "example a review, a commentary, a laboratory or animal study, or a study of "
        "another condition).",),
}

_PEM_PHRASES = {
    "required": "which requires PEM",
    "optional": "which does not require PEM (it is one optional symptom)",
    "absent": "which does not require PEM (it is not a criterion)",
    "weak": "which accepts post-exertional fatigue instead of PEM, so does not strictly "
            "require it",
}
_PEM_RE = re.compile(PEM_TERM, re.IGNORECASE)


def explanation(label: str) -> str:
    return " ".join(EXPLANATIONS.get(label, EXPLANATIONS["unclear"]))


def _span(ev: Mapping[str, Any]) -> SourceSpan:
    return SourceSpan(source=ev["source"], start=ev["start"], end=ev["end"], text=ev["text"])


def _uses(classification: Mapping[str, Any], roles: Sequence[str], *,
          first_only: bool = True) -> list[dict[str, Any]]:
    """The definition uses with one of ``roles``, in order; the first per (id, role) only."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for use in (classification.get("pem") or {}).get("definitions") or ():
        ev = use["evidence"]
        key = ((use["id"], use["role"]) if first_only
               else (use["id"], use["role"], ev["source"], ev["start"], ev["end"]))
        if use["role"] in roles and key not in seen:
            seen.add(key)
            out.append(use)
    return out


def badge(classification: Mapping[str, Any]) -> dict[str, Any]:
    """The badge dict: label, short title, standard explanation, evidence spans."""
    label = (classification.get("pem") or {}).get("label") or "unclear"
    evidence = [{"definition": u["id"], "pem": u["pem"], "role": u["role"],
                 **_span(u["evidence"]).to_json()}
                for u in _uses(classification, ("inclusion", "subgroup"), first_only=False)]
    for ev in evidence:
        ev.pop("field", None)
    return {"label": label, "title": TITLES.get(label, label), "explanation": explanation(label),
            "evidence": evidence}


def _names(uses: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for u in uses:
        name = names.get(u["id"], u["id"])
        if name not in out:
            out.append(name)
    return out


def join_names(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pem_added(record: Mapping[str, Any], uses: Sequence[Mapping[str, Any]],
               ) -> SourceSpan | None:
    """Where the text adds PEM as an explicit requirement to a definition's use."""
    for use in uses:
        ev = use["evidence"]
        text = record.get(ev["source"]) or ""
        for s, e in split_sentences(text):
            if s <= ev["start"] < e:
                m = _PEM_RE.search(text, ev["end"], e)
                if m and m.start() - ev["end"] <= 80:
                    return text_span(ev["source"], ev["start"], m.end(), text)
    return None


def pem_sentences(record: Mapping[str, Any], classification: Mapping[str, Any],
                  definition_names: Mapping[str, str],
                  fallback: Sequence[SourceSpan]) -> list[Sentence]:
    """The PEM field: the standard explanation, then one quoted sentence per definition use.

    ``fallback``: spans the explanation rests on when no definition was used for inclusion
    (the cohort, the design cue, the title).
    """
    label = (classification.get("pem") or {}).get("label") or "unclear"
    used = _uses(classification, ("inclusion", "subgroup"))
    spans = tuple(_span(u["evidence"]) for u in used) or tuple(fallback)
    out = [Sentence("pem", text, spans, f"pem.explanation.{label}")
           for text in EXPLANATIONS.get(label, EXPLANATIONS["unclear"])]
    for use in used:
        name = definition_names.get(use["id"], use["id"])
        phrase = _PEM_PHRASES.get(use["pem"], "whose PEM status is not known")
        ev = _span(use["evidence"])
        quote = ev.text.rstrip(" .;,")
        ev = SourceSpan(ev.source, ev.start, ev.start + len(quote), quote)
        lead = ("The participants were selected by" if use["role"] == "inclusion"
                else "A subgroup was reported to meet")
        out.append(Sentence("pem", f"{lead} {name}, {phrase}: “{quote}”.", (ev,),
                            f"pem.evidence.{use['role']}"))
    inclusion = [u for u in used if u["role"] == "inclusion"]
    if label == "required" and inclusion and not any(u["pem"] == "required" for u in inclusion):
        added = _pem_added(record, inclusion)
        if added is not None:
            out.append(Sentence("pem", f"PEM was added as an explicit requirement: "
                                       f"“{added.text}”.", (added,), "pem.evidence.extra"))
    background = _uses(classification, ("background",))
    if background and not used:
        names = _names(background, definition_names)
        verb = "is" if len(names) == 1 else "are"
        first = _span(background[0]["evidence"])
        out.append(Sentence(
            "pem", f"{join_names(names)} {verb} named only as background, not as criteria "
                   f"for selecting participants: “{first.text}”.",
            tuple(_span(u["evidence"]) for u in background), "pem.evidence.background"))
    return out
