"""The PEM reader's public data: labels, definitions, evidence, results, confidences."""

from __future__ import annotations

from dataclasses import dataclass

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
