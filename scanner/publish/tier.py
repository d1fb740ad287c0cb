"""An entry's evidence tier and confidence: a fixed rule over its design, sample size,
text and curators' "replicated" links, with the thresholds pinned in the policy's
``[evidence]`` table (:class:`~scanner.policy.EvidenceSpec`). No language model.

Tiers, strongest first:

- ``E1 Replicated``: a cohort study (E2 by the rule below) that curators linked to at
  least ``replicated_links`` independent studies with the same finding.
- ``E2 Moderate``: a controlled or observational study with its own cohort of at least
  ``small_sample`` participants, not a pilot.
- ``E3 Preliminary``: a case report, laboratory, animal or qualitative study, a pilot, a
  cohort under ``small_sample`` participants, or one whose size the abstract does not give.
- ``E4 Context``: no participants of its own (review, guideline, commentary, other).

Confidence: ``high`` for E1/E2 with at least ``high_confidence_sample`` participants and
quoted PEM evidence; ``moderate`` for other E1/E2 entries; ``low`` otherwise. A preprint is
marked and never above ``moderate``; a retracted paper has no tier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.policy import EvidenceSpec

TIERS = {"E1": "E1 Replicated", "E2": "E2 Moderate", "E3": "E3 Preliminary",
         "E4": "E4 Context", "withdrawn": "Not graded (retracted)"}
PREPRINT_TYPES = ("Preprint",)


@dataclass(frozen=True)
class Grade:
    tier: str           # E1..E4, or "withdrawn" for a retracted paper
    title: str          # "E3 Preliminary"
    confidence: str     # high | moderate | low
    reasons: tuple[str, ...]
    preprint: bool

    @property
    def peer_reviewed(self) -> bool:
        return not self.preprint


def is_preprint(publication_types: Sequence[str]) -> bool:
    return any(t in PREPRINT_TYPES for t in publication_types)


def grade(spec: EvidenceSpec, *, design: str, sample: int | None, text: str,
          publication_types: Sequence[str], replicated_by: int, has_pem_evidence: bool,
          retracted: bool) -> Grade:
    """The tier and confidence of one entry (see the module's docstring)."""
    preprint = is_preprint(publication_types)
    if retracted:
        return Grade("withdrawn", TIERS["withdrawn"], "low",
                     ("the paper has been retracted",), preprint)
    reasons: list[str] = []
    pilot = next((t for t in spec.pilot_terms
                  if re.search(rf"\b{re.escape(t)}\b", text, re.IGNORECASE)), None)
    if design in spec.cohort_designs:
        if sample is None:
            tier = "E3"
            reasons.append("the abstract does not give the number of participants")
        elif sample < spec.small_sample:
            tier = "E3"
            reasons.append(f"{sample} participants, under {spec.small_sample}")
        elif pilot:
            tier = "E3"
            reasons.append(f"described as a {pilot} study")
        else:
            tier = "E2"
            reasons.append(f"a study with its own cohort of {sample} participants")
            if replicated_by >= spec.replicated_links:
                tier = "E1"
                reasons.append(f"curators linked {replicated_by} independent "
                               f"{'study' if replicated_by == 1 else 'studies'} with the "
                               "same finding")
    elif design in spec.preliminary_designs:
        tier = "E3"
        reasons.append(f"design: {design.replace('_', ' ')}")
    else:
        tier = "E4"
        reasons.append(f"design: {design.replace('_', ' ')} (no participants of its own)")
    if tier in ("E1", "E2"):
        strong = (sample or 0) >= spec.high_confidence_sample and has_pem_evidence
        confidence = "high" if strong else "moderate"
        if not has_pem_evidence:
            reasons.append("no quoted case-definition evidence")
    else:
        confidence = "low"
    if preprint:
        reasons.append("a preprint, not peer reviewed")
        if confidence == "high":
            confidence = "moderate"
    return Grade(tier, TIERS[tier], confidence, tuple(reasons), preprint)
