"""The classification result, typed: one per paper, exactly the JSON that
``shared/contracts/classification.schema.json`` describes (plus ``pem.reason``).

These are :class:`~typing.TypedDict` s, so a result is still the plain dict that is
written as a JSON line, stored in ``classifications.result`` and compared by reruns;
the types make every reader of it checked.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

RelevanceLabel = Literal["mecfs", "adjacent", "not_relevant"]
RelevanceRoute = Literal["auto_include", "review", "auto_exclude"]
PemLabel = Literal["required", "not_required", "mixed", "unclear", "not_applicable"]
DefinitionPem = Literal["required", "optional", "absent", "weak"]
Role = Literal["inclusion", "subgroup", "background"]
Source = Literal["title", "abstract", "fulltext"]


class PolicyStamp(TypedDict):
    id: str
    version: str
    sha256: str


class Evidence(TypedDict):
    """An exact slice of the source text: ``text == source_text[start:end]``."""

    text: str
    source: Source
    start: int
    end: int


class DefinitionHit(TypedDict):
    id: str
    pem: DefinitionPem
    role: Role
    evidence: Evidence


class RelevanceOutput(TypedDict):
    label: RelevanceLabel
    score: float
    route: RelevanceRoute


class PemOutput(TypedDict):
    label: PemLabel
    confidence: float
    route: Literal["auto", "review"]
    reason: NotRequired[str]
    definitions: list[DefinitionHit]


class StudyOutput(TypedDict):
    design: str
    human_participants: bool | None


class ClassificationResult(TypedDict):
    pmid: str
    policy: PolicyStamp
    scanner_version: str
    relevance: RelevanceOutput
    pem: PemOutput
    study: StudyOutput
    retracted: NotRequired[bool]
