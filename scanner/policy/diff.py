"""``scanner diff OLD NEW``: what a policy change would do to the stored papers (shadow mode).

Every live record is classified under both policies from its stored raw XML: a stored
result is used where one exists for the record's current version, the rest is computed
in memory and never stored (so a draft policy leaves no trace). Papers whose relevance
label, relevance route, PEM status, PEM route, evidence spans or study design differ are
listed, with counts per kind of change and both policies' evaluation figures on the labelled sets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..store.db import Database
from ..store.models import Record
from .compare import evidence_spans, spans_text
from .stored import ClassifierFactory, check_policy_recorded, results_under

#: Kinds of change, in the order they are reported.
KINDS = ("relevance", "route", "pem", "pem_route", "evidence", "design")


def summary(result: ClassificationResult) -> dict[str, Any]:
    """The fields a diff compares (and shows) of one result."""
    return {"relevance": result["relevance"]["label"],
            "score": result["relevance"]["score"],
            "route": result["relevance"]["route"],
            "pem": result["pem"]["label"], "pem_route": result["pem"]["route"],
            "evidence": spans_text(evidence_spans(result)), "design": result["study"]["design"]}


def change_kinds(old: ClassificationResult, new: ClassificationResult) -> list[str]:
    a, b = summary(old), summary(new)
    return [k for k in KINDS if a[k] != b[k]]


def describe(kinds: Sequence[str], old: dict[str, Any], new: dict[str, Any]) -> str:
    """One phrase per change, e.g. "PEM status required → unclear"."""
    names = {"relevance": "relevance", "route": "relevance route", "pem": "PEM status",
             "pem_route": "PEM route", "evidence": "evidence", "design": "design"}
    return "; ".join(f"{names[k]} {old[k]} → {new[k]}" for k in kinds)


@dataclass
class PaperChange:
    pmid: str
    title: str
    kinds: list[str]
    old: dict[str, Any]
    new: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"pmid": self.pmid, "title": self.title, "changes": self.kinds,
                "old": self.old, "new": self.new}


@dataclass
class PolicyDiff:
    old: Policy
    new: Policy
    records: int = 0
    computed: dict[str, int] = field(default_factory=dict)  # version -> results computed now
    changes: list[PaperChange] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in KINDS}
        for c in self.changes:
            for k in c.kinds:
                out[k] += 1
        return {"papers": len(self.changes), **out}

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old.stamp, "new": self.new.stamp, "records": self.records,
                "computed": self.computed, "counts": self.counts,
                "changes": [c.to_json() for c in self.changes],
                "evaluation": self.evaluation}


def diff_policies(db: Database, old: Policy, new: Policy, old_classifier: ClassifierFactory,
                  new_classifier: ClassifierFactory) -> PolicyDiff:
    """Classify every live record under both policies (nothing stored) and compare."""
    with db.read() as conn:
        check_policy_recorded(conn, old)
        check_policy_recorded(conn, new)
    out = PolicyDiff(old=old, new=new)
    before = {c.pmid: c for c in results_under(db, old, old_classifier)}
    after = {c.pmid: c for c in results_under(db, new, new_classifier)}
    out.computed = {old.version: sum(not c.stored for c in before.values()),
                    new.version: sum(not c.stored for c in after.values())}
    out.records = len(before)
    changed: list[tuple[str, list[str], dict[str, Any], dict[str, Any]]] = []
    for pmid in sorted(before):
        if pmid not in after:  # a record that arrived or went between the two passes
            continue
        a, b = before[pmid].result, after[pmid].result
        kinds = change_kinds(a, b)
        if kinds:
            changed.append((pmid, kinds, summary(a), summary(b)))
    titles: dict[str, str] = {}
    if changed:
        with db.read() as conn:
            pmids = [c[0] for c in changed]
            for i in range(0, len(pmids), 500):
                titles.update(conn.execute(select(Record.pmid, Record.title).where(
                    Record.pmid.in_(pmids[i:i + 500]))).all())
    out.changes = [PaperChange(p, titles.get(p, ""), k, a, b) for p, k, a, b in changed]
    return out


def evaluation_figures(policies: Sequence[tuple[Policy, Any]],
                       label_files: Sequence[Path]) -> dict[str, Any]:
    """Each policy's figures on each labelled set, never in-sample: on the labelled papers
    disjoint from its training data, plus its training run's out-of-fold figures."""
    from classifiers.pipeline import training_manifest, training_pmids
    from scanner.training.datasets import load_labelled
    from scanner.training.evaluate import honest_evaluate

    out: dict[str, Any] = {}
    for path in label_files:
        examples = load_labelled(path)
        papers = [e.paper for e in examples]
        out[str(path)] = {policy.version: honest_evaluate(
            examples, classifier.classify(papers), training_pmids(policy),
            training_manifest(policy)) for policy, classifier in policies}
    return out


def _headline(report: dict[str, Any]) -> str:
    oof = report.get("out_of_fold")
    tail = ""
    if oof:
        tail = (f"; {oof['method']}: relevance accuracy {oof['relevance_accuracy']:.3f}"
                + (f", design accuracy {oof['design_accuracy']:.3f}, own-cohort precision "
                   f"{oof['own_cohort']['precision']:.3f} recall "
                   f"{oof['own_cohort']['recall']:.3f}" if "design_accuracy" in oof else ""))
    if "relevance" not in report:
        return (f"none disjoint from training ({report.get('in_training_excluded', 0)} "
                f"in-sample papers not evaluated){tail}")
    return (f"disjoint from training: {_disjoint_headline(report)} "
            f"({report.get('in_training_excluded', 0)} in-sample papers not evaluated){tail}")


def _disjoint_headline(report: dict[str, Any]) -> str:
    rel = report["relevance"]
    routing = rel["routing"]
    precision = routing["auto_include_precision"]
    text = (f"relevance accuracy {rel['accuracy']:.3f}, auto-include precision "
            f"{'n/a' if precision is None else f'{precision:.3f}'}, ME/CFS auto-excluded "
            f"{routing['mecfs_auto_excluded']}/{routing['mecfs_total']}, auto-routed "
            f"{routing['auto_routed']:.1%}")
    if "pem" in report:
        text += f"; PEM accuracy {report['pem']['accuracy']:.3f}"
    return text


CSV_COLUMNS = ("pmid", "changes", "old_relevance", "new_relevance", "old_score", "new_score",
               "old_route", "new_route", "old_pem", "new_pem", "old_pem_route",
               "new_pem_route", "old_evidence", "new_evidence", "old_design", "new_design",
               "title")


def format_diff(diff: PolicyDiff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for c in diff.changes:
            writer.writerow([c.pmid, ";".join(c.kinds), c.old["relevance"], c.new["relevance"],
                             c.old["score"], c.new["score"], c.old["route"], c.new["route"],
                             c.old["pem"], c.new["pem"], c.old["pem_route"],
                             c.new["pem_route"], c.old["evidence"], c.new["evidence"],
                             c.old["design"], c.new["design"], c.title])
        return buf.getvalue()
    counts = diff.counts
    lines = [f"policy {diff.old.version} → {diff.new.version}: {diff.records} live records, "
             f"{counts['papers']} would change",
             "  " + ", ".join(f"{k}: {counts[k]}" for k in KINDS),
             "  computed now (not stored): "
             + ", ".join(f"{v} {n}" for v, n in diff.computed.items())]
    if diff.changes:
        lines += ["", f"{'pmid':<10} {'change':<34} title"]
        for c in diff.changes:
            lines.append(f"{c.pmid:<10} {describe(c.kinds, c.old, c.new)[:200]:<34} "
                         f"{c.title[:70]}")
    for path, reports in diff.evaluation.items():
        lines += ["", f"evaluation on {path}:"]
        for version, report in reports.items():
            lines.append(f"  {version}: n={report['n']}: {_headline(report)}")
    return "\n".join(lines) + "\n"
