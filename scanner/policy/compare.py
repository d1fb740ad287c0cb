"""Comparing a stored result with a recomputed one, field by field (scores within
:data:`SCORE_TOLERANCE`), and the report a rerun gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from classifiers.result import ClassificationResult

#: Scores and confidences (stored rounded to 6 decimals) compare equal within this.
SCORE_TOLERANCE = 1e-6
def evidence_spans(result: ClassificationResult) -> list[tuple[Any, ...]]:
    return sorted((d["id"], d["pem"], d["role"], d["evidence"]["source"],
                   d["evidence"]["start"], d["evidence"]["end"], d["evidence"]["text"])
                  for d in result["pem"]["definitions"])


def spans_text(spans: list[tuple[Any, ...]]) -> str:
    return "; ".join(f"{s[0]}/{s[2]}@{s[3]}[{s[4]}:{s[5]}]" for s in spans) or "none"


def compare_into(report: RerunReport, pmids: Sequence[str],
                 results: Sequence[ClassificationResult],
                 have: dict[str, ClassificationResult], tolerance: float) -> None:
    """Compare computed results with the stored ones, adding differences to ``report``."""
    for pmid, computed in zip(pmids, results, strict=True):
        stored = have.get(pmid)
        if stored is None:
            report.unverified += 1
            continue
        report.compared += 1
        for name, a, b in compare_results(stored, computed, tolerance):
            report.differences.append(Difference(pmid, name, a, b))


def compare_results(stored: ClassificationResult, computed: ClassificationResult,
                    tolerance: float = SCORE_TOLERANCE) -> list[tuple[str, Any, Any]]:
    """(field, stored, computed) for every field that differs; scores within tolerance."""
    out: list[tuple[str, Any, Any]] = []
    exact = (("policy.sha256", ("policy", "sha256")),
             ("relevance.label", ("relevance", "label")),
             ("relevance.route", ("relevance", "route")),
             ("pem.label", ("pem", "label")), ("pem.route", ("pem", "route")),
             ("pem.reason", ("pem", "reason")),
             ("study.design", ("study", "design")),
             ("study.human_participants", ("study", "human_participants")),
             ("retracted", ("retracted",)))
    for name, path in exact:
        a: Any = stored
        b: Any = computed
        for key in path:
            a = a.get(key) if isinstance(a, dict) else None
            b = b.get(key) if isinstance(b, dict) else None
        if a != b:
            out.append((name, a, b))
    for name, a, b in (
            ("relevance.score", stored["relevance"]["score"], computed["relevance"]["score"]),
            ("pem.confidence", stored["pem"]["confidence"], computed["pem"]["confidence"])):
        if abs(float(a) - float(b)) > tolerance + 1e-12:
            out.append((name, a, b))
    sa, sb = evidence_spans(stored), evidence_spans(computed)
    if sa != sb:
        out.append(("pem.evidence", spans_text(sa), spans_text(sb)))
    return out


@dataclass
class Difference:
    pmid: str
    field: str
    stored: Any
    computed: Any

    def line(self) -> str:
        return f"{self.pmid}\t{self.field}\tstored={self.stored!r}\trerun={self.computed!r}"


@dataclass
class RerunReport:
    policy: str
    verify: bool
    records: int = 0
    classified: int = 0  # computed now
    stored_new: int = 0  # saved by this run (without --verify)
    compared: int = 0
    unverified: int = 0  # --verify: records with no stored result to compare with
    differences: list[Difference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    runtime: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        if self.verify:
            papers = len({d.pmid for d in self.differences})
            text = (f"rerun --verify under policy {self.policy}: {self.compared} records "
                    f"compared, {len(self.differences)} differences in {papers} papers")
            if self.unverified:
                text += f", {self.unverified} with no stored result (not compared)"
        else:
            text = (f"rerun under policy {self.policy}: {self.records} live records, "
                    f"{self.stored_new} newly classified and stored")
        return text + f" ({self.seconds:.1f} s, {self.rate:.0f} records/s)"

    def counts(self) -> dict[str, Any]:
        return {"records": self.records, "classified": self.classified,
                "stored": self.stored_new, "compared": self.compared,
                "unverified": self.unverified, "differences": len(self.differences),
                "verify": self.verify, "warnings": self.warnings, "runtime": self.runtime}
