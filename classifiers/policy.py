"""Versioned, immutable policies: TOML files in ``policies/``, frozen and hashed on load.

A policy fixes everything that decides a label: the PubMed query, the case definitions
and how they combine into a PEM label, the relevance operating point (with the
validation figures that chose it), and the pins of every model (the embedding model's
weights and the trained artifacts, each by sha256). Its sha256 is the hash of the file's
bytes, read in binary mode; results carry it so that a policy that changed after it was
used can be refused.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .components import check_relevance, check_study
from .errors import PolicyError

PemStatus = Literal["required", "optional", "absent", "weak"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchSpec(_Frozen):
    query: str
    datetype: Literal["crdt"] = "crdt"


class CaseDefinitionSpec(_Frozen):
    id: str
    name: str
    pem: PemStatus
    patterns: tuple[str, ...]
    ambiguous: tuple[str, ...] = ()

    @field_validator("patterns", "ambiguous")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return value


class PemSpec(_Frozen):
    weak_as: Literal["required", "not_required", "mixed", "unclear"] = "not_required"
    auto_confidence: float = Field(0.75, ge=0, le=1)
    #: the role rules' version (classifiers/pem): 1 as in v0.1-v0.3; 2 adds the double
    #: negative ("patients who did not meet X were excluded / not included": X selected
    #: them), "we used / applied X" as inclusion, and in full text another named study's
    #: criteria ("DecodeME applied X") as background
    rules: Literal[1, 2] = 1


class FulltextSpec(_Frozen):
    """``[fulltext]``: whether and how full text is read (absent: policy v0.1 behaviour, no
    escalation in scans; ``classify --fulltext`` reads the whole text as given)."""

    #: scans fetch open-access full text (PMC JATS via efetch db=pmc) for escalated papers
    escalate: bool = True
    #: abstract-based PEM labels that send a paper with ME/CFS participants to its full text
    escalate_labels: tuple[Literal["unclear", "not_required", "mixed"], ...] = ("unclear",)
    sources: tuple[Literal["pmc"], ...] = ("pmc",)
    #: the passage reader's version (classifiers/fulltext_reader.py READERS). "passages-2"
    #: also reads the paper from its full text where the record falls short: a record
    #: without an abstract takes the full text's abstract (for relevance, design, cohort),
    #: and the full text decides whether an ME/CFS paper has participants of its own (the
    #: abstract models only where the text cannot tell), so a paper the abstract models
    #: took for a review or for one without a cohort is still read.
    reader: Literal["passages-1", "passages-2"] = "passages-1"


class ReviewSpec(_Frozen):
    """``[review]``: how curators decide (absent: single review, one curator decides).

    ``dual``: two curators decide each draft blind to each other; a disagreement goes to
    an adjudicator (scanner/review/dual.py).
    """

    mode: Literal["single", "dual"] = "single"


class EvidenceSpec(_Frozen):
    """``[evidence]``: the rule for a public entry's evidence tier and confidence
    (scanner/publish/tier.py). Absent from a policy: these defaults."""

    #: designs with no controlled cohort of their own: at best preliminary
    preliminary_designs: tuple[str, ...] = ("case_report", "in_vitro", "animal", "qualitative")
    #: designs that can be moderate when their cohort is large enough and not a pilot
    cohort_designs: tuple[str, ...] = ("rct", "trial_other", "observational")
    #: a cohort under this many participants is preliminary
    small_sample: int = Field(50, ge=1)
    #: words in the title or abstract that mark a pilot or feasibility study
    pilot_terms: tuple[str, ...] = ("pilot", "feasibility", "preliminary study")
    #: independent studies a curator linked as replicating the finding for "replicated"
    replicated_links: int = Field(1, ge=1)
    #: a moderate or replicated entry with at least this many participants and quoted PEM
    #: evidence has high confidence
    high_confidence_sample: int = Field(100, ge=1)


class OperatingPoint(_Frozen):
    """Relevance thresholds on the calibrated score, with the figures that chose them."""

    name: str
    include_at: float = Field(ge=0, le=1)
    exclude_below: float = Field(ge=0, le=1)
    chosen_by: str = ""
    validation: dict[str, float] = {}


class EmbeddingPin(_Frozen):
    model: str
    package: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ArtifactPin(_Frozen):
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RelevanceSpec(_Frozen):
    components: tuple[str, ...] = ("rules", "tfidf_lr")

    @field_validator("components")
    @classmethod
    def _registered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_relevance(value)
    operating_point: str = "balanced"
    operating_points: tuple[OperatingPoint, ...] = ()
    embedding: EmbeddingPin | None = None
    artifact: ArtifactPin | None = None

    def point(self) -> OperatingPoint:
        for op in self.operating_points:
            if op.name == self.operating_point:
                return op
        raise PolicyError(f"operating point {self.operating_point!r} is not defined")


class StudySpec(_Frozen):
    """``[study]``: trained study-design and own-ME/CFS-cohort models (absent: the design
    rules of ``classifiers/design.py`` and the relevance label decide, policies v0.1/v0.2)."""

    #: model components by name (classifiers/components.py: one design, one cohort model)
    components: tuple[str, ...] = ("design_lr", "cohort_lr")

    @field_validator("components")
    @classmethod
    def _registered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_study(value)
    design: ArtifactPin
    cohort: ArtifactPin
    #: P(own ME/CFS cohort) at or above which a paper has its own ME/CFS participants
    cohort_threshold: float = Field(0.5, ge=0, le=1)


class Policy(_Frozen):
    id: str
    version: str
    description: str = ""
    search: SearchSpec
    case_definitions: tuple[CaseDefinitionSpec, ...] = ()
    pem: PemSpec = PemSpec()
    relevance: RelevanceSpec = RelevanceSpec()
    fulltext: FulltextSpec | None = None
    review: ReviewSpec = ReviewSpec()
    evidence: EvidenceSpec = EvidenceSpec()
    study: StudySpec | None = None
    #: sha256 of the file's bytes, set by :func:`load_policy`.
    sha256: str = ""
    #: the directory the policy was loaded from (artifact paths are relative to it).
    root: Path = Field(Path("."), exclude=True)

    @property
    def query_sha256(self) -> str:
        return hashlib.sha256(self.search.query.encode()).hexdigest()

    @property
    def stamp(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


def policy_path(policy_dir: Path, version: str) -> Path:
    return policy_dir / f"{version}.toml"


def known_versions(policy_dir: Path) -> list[str]:
    return sorted(p.stem for p in policy_dir.glob("*.toml"))


def load_policy(policy_dir: Path, version: str) -> Policy:
    """Load ``policies/{version}.toml`` in binary mode, validate it and hash its bytes."""
    path = policy_path(policy_dir, version)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        known = known_versions(policy_dir)
        raise PolicyError(
            f"policy {version!r} not found in {policy_dir} (known: {', '.join(known) or 'none'})"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"policy {path.name}: not valid TOML: {exc}") from None
    try:
        policy = Policy.model_validate(
            {**data, "sha256": hashlib.sha256(raw).hexdigest(), "root": policy_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"policy {path.name}: {key}: {first['msg']}") from None
    if policy.version != version:
        raise PolicyError(
            f"policy {path.name}: declares version {policy.version!r}, expected {version!r}"
        )
    return policy
