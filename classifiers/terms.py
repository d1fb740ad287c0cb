"""Explicit ME/CFS and adjacent-topic terms, with acronym disambiguation.

A bare acronym is never evidence: "CFS" counts only when the text defines it as chronic
fatigue syndrome ("chronic fatigue syndrome (CFS)"), or writes "ME/CFS" / "CFS/ME";
"CFS" as cell-free supernatant, Clinical Frailty Scale or cramp-fasciculation syndrome
does not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MECFS_MESH = "Fatigue Syndrome, Chronic"

MECFS_TERMS = re.compile(
    r"chronic fatigue syndrome|myalgic encephalo(?:myelitis|pathy)|\bME/CFS\b|\bCFS/ME\b|"
    r"\bME-CFS\b|\bMECFS\b|systemic exertion intolerance disease|"
    r"post-?viral fatigue syndrome|chronic fatigue immune dysfunction|\bSEID\b",
    re.IGNORECASE)
ADJACENT_TERMS = re.compile(
    r"long[- ]covid|post[- ]covid(?:-19)? (?:condition|syndrome)|post-acute sequelae|"
    r"\bPASC\b|post[- ]exertional malaise|post[- ]exertional symptom exacerbation|"
    r"\bPESE\b|exertion intolerance|post[- ]infectious fatigue|gulf war illness|"
    r"fibromyalgia",
    re.IGNORECASE)
OTHER_CFS_TERMS = re.compile(
    r"cell[- ]free supernatant|clinical frailty scale|cramp[- ]fasciculation|"
    r"colony[- ]forming|cerebrospinal fluid shunt|crystalline|final cfs", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TermHits:
    mecfs_title: bool
    mecfs_abstract: bool
    mecfs_mesh: bool
    adjacent: bool
    collision: bool

    @property
    def mecfs(self) -> bool:
        return self.mecfs_title or self.mecfs_abstract or self.mecfs_mesh

    def as_features(self) -> list[float]:
        return [float(self.mecfs_title), float(self.mecfs_abstract), float(self.mecfs_mesh),
                float(self.adjacent), float(self.collision)]


FEATURE_NAMES = ("mecfs_title", "mecfs_abstract", "mecfs_mesh", "adjacent", "cfs_collision")


def find_terms(title: str, abstract: str, mesh: Iterable[str] = (),
               keywords: Iterable[str] = ()) -> TermHits:
    extra = " ".join(keywords)
    return TermHits(
        mecfs_title=bool(MECFS_TERMS.search(title)),
        mecfs_abstract=bool(MECFS_TERMS.search(abstract) or MECFS_TERMS.search(extra)),
        mecfs_mesh=MECFS_MESH in set(mesh),
        adjacent=bool(ADJACENT_TERMS.search(f"{title}\n{abstract}\n{extra}")),
        collision=bool(OTHER_CFS_TERMS.search(f"{title}\n{abstract}")),
    )
