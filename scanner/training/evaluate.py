"""``scanner evaluate``: how a policy's classifier does on a labelled set."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from classifiers.design import DESIGNS
from classifiers.relevance import LABELS as RELEVANCE_LABELS
from classifiers.result import ClassificationResult

from .datasets import Example

PEM_LABELS = ("required", "not_required", "mixed", "unclear", "not_applicable")


def per_label(y_true: Sequence[str], y_pred: Sequence[str],
               labels: Sequence[str]) -> dict[str, Any]:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(labels),
                                                 zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=list(labels))
    return {
        "labels": list(labels),
        "per_label": {lab: {"precision": float(p[i]), "recall": float(r[i]),
                            "f1": float(f[i]), "support": int(s[i])}
                      for i, lab in enumerate(labels)},
        "accuracy": float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)])),
        "confusion": cm.tolist(),
    }


def calibration(scores: np.ndarray, truth: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Brier score and expected calibration error of P(relevant)."""
    edges = np.linspace(0, 1, bins + 1)
    table = []
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (scores >= lo) & ((scores < hi) if hi < 1 else (scores <= hi))
        if mask.any():
            gap = abs(float(scores[mask].mean()) - float(truth[mask].mean()))
            ece += gap * mask.sum() / len(scores)
            table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(mask.sum()),
                          "mean_score": float(scores[mask].mean()),
                          "observed": float(truth[mask].mean())})
    return {"brier": float(np.mean((scores - truth) ** 2)), "ece": float(ece),
            "bins": table}


def evaluate(examples: Sequence[Example], results: Sequence[ClassificationResult],
             training_pmids: set[str] | None = None) -> dict[str, Any]:
    rel_true = [e.labels["relevance"] for e in examples]
    rel_pred = [r["relevance"]["label"] for r in results]
    routes = [r["relevance"]["route"] for r in results]
    scores = np.asarray([r["relevance"]["score"] for r in results])
    relevant = np.isin(rel_true, ["mecfs", "adjacent"]).astype(float)
    mecfs = [t == "mecfs" for t in rel_true]
    included = [r == "auto_include" for r in routes]
    report: dict[str, Any] = {"n": len(examples)}
    report["relevance"] = per_label(rel_true, rel_pred, RELEVANCE_LABELS)
    report["relevance"]["routing"] = {
        "auto_routed": sum(r != "review" for r in routes) / max(len(routes), 1),
        "auto_include": routes.count("auto_include"), "review": routes.count("review"),
        "auto_exclude": routes.count("auto_exclude"),
        "mecfs_auto_excluded": sum(m and r == "auto_exclude" for m, r in
                                   zip(mecfs, routes, strict=True)),
        "mecfs_total": sum(mecfs),
        "auto_include_precision": (float(relevant[np.asarray(included)].mean())
                                   if any(included) else None),
    }
    report["relevance"]["calibration"] = calibration(scores, relevant)
    pem_rows = [(e, r) for e, r in zip(examples, results, strict=True) if e.labels.get("pem")]
    if pem_rows:
        pem_true = [e.labels["pem"] for e, _ in pem_rows]
        pem_pred = [r["pem"]["label"] for _, r in pem_rows]
        report["pem"] = per_label(pem_true, pem_pred, PEM_LABELS)
        report["pem"]["auto_routed"] = sum(r["pem"]["route"] == "auto"
                                           for _, r in pem_rows) / len(pem_rows)
        report["pem"]["claims_without_evidence"] = sum(
            r["pem"]["label"] in ("required", "not_required", "mixed")
            and not r["pem"]["definitions"] for _, r in pem_rows)
        report["pem"]["errors"] = [
            {"pmid": e.paper.pmid, "expected": e.labels["pem"], "got": r["pem"]["label"]}
            for e, r in pem_rows if e.labels["pem"] != r["pem"]["label"]]
    design_rows = [(e, r) for e, r in zip(examples, results, strict=True)
                   if e.labels.get("design")]
    if design_rows:
        report["design"] = per_label([e.labels["design"] for e, _ in design_rows],
                                      [r["study"]["design"] for _, r in design_rows], DESIGNS)
    report["relevance"]["errors"] = [
        {"pmid": e.paper.pmid, "expected": e.labels["relevance"],
         "got": r["relevance"]["label"], "score": r["relevance"]["score"],
         "route": r["relevance"]["route"]}
        for e, r in zip(examples, results, strict=True)
        if e.labels["relevance"] != r["relevance"]["label"]]
    if training_pmids is not None:
        report["in_training_data"] = sum(e.paper.pmid in training_pmids for e in examples)
    return report


def _table(block: dict[str, Any]) -> list[str]:
    lines = [f"  {'label':<16}{'precision':>10}{'recall':>9}{'f1':>8}{'n':>6}"]
    for lab, m in block["per_label"].items():
        lines.append(f"  {lab:<16}{m['precision']:>10.3f}{m['recall']:>9.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>6}")
    labels = block["labels"]
    width = max(len(x) for x in labels) + 2
    lines.append("  confusion (rows: true, columns: predicted)")
    lines.append("  " + " " * width + "".join(f"{x[:10]:>11}" for x in labels))
    for lab, row in zip(labels, block["confusion"], strict=True):
        lines.append(f"  {lab:<{width}}" + "".join(f"{v:>11}" for v in row))
    return lines


def format_report(report: dict[str, Any]) -> str:
    if "relevance" not in report:
        return f"labelled papers: {report['n']}"
    rel = report["relevance"]
    routing = rel["routing"]
    lines = [f"labelled papers: {report['n']}"]
    if report.get("in_training_data"):
        lines.append(f"WARNING: {report['in_training_data']} of them were in the training "
                     "data; their relevance figures are optimistic (see the manifest's "
                     "cross-validated figures)")
    lines += ["", f"RELEVANCE  accuracy {rel['accuracy']:.3f}", *_table(rel)]
    precision = routing["auto_include_precision"]
    lines += [
        f"  routing: {routing['auto_include']} auto_include, {routing['review']} review, "
        f"{routing['auto_exclude']} auto_exclude; auto-routed {routing['auto_routed']:.1%}",
        f"  ME/CFS papers auto-excluded: {routing['mecfs_auto_excluded']} of "
        f"{routing['mecfs_total']}",
        "  auto-included that are relevant: "
        + ("n/a" if precision is None else f"{precision:.1%}"),
        f"  calibration: Brier {rel['calibration']['brier']:.4f}, "
        f"ECE {rel['calibration']['ece']:.4f}",
    ]
    for b in rel["calibration"]["bins"]:
        lines.append(f"    score {b['bin']}: n={b['n']:<5} mean score {b['mean_score']:.3f}"
                     f"  observed relevant {b['observed']:.3f}")
    if "pem" in report:
        pem = report["pem"]
        lines += ["", f"PEM STATUS  accuracy {pem['accuracy']:.3f}", *_table(pem),
                  f"  auto-routed {pem['auto_routed']:.1%}; claims without evidence: "
                  f"{pem['claims_without_evidence']}"]
    if "design" in report:
        lines += ["", f"STUDY DESIGN  accuracy {report['design']['accuracy']:.3f}"]
    return "\n".join(lines)


def out_of_fold_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The out-of-fold figures a training run recorded in its manifest (None if none)."""
    if not manifest or "cross_validated" not in manifest:
        return None
    cv = manifest["cross_validated"]
    folds = manifest.get("folds", 5)
    out: dict[str, Any] = {
        "method": cv.get("method", f"out-of-fold, {folds}-fold stratified, seed "
                                   f"{manifest.get('seed', 0)}"),
        "n": sum(manifest.get("training_data", {}).get("counts", {}).values()),
        "relevance_accuracy": cv["accuracy"],
        "relevance_f1": {k: v["f1"] for k, v in cv["relevance"]["per_label"].items()},
    }
    study = manifest.get("study", {}).get("cross_validated")
    if study:
        out["design_accuracy"] = study["design"]["combined"]["accuracy"]
        out["own_cohort"] = {k: study["own_cohort"][k] for k in ("precision", "recall")}
        out["pem_accuracy"] = study["pem"]["accuracy"]
    return out


def honest_evaluate(examples: Sequence[Example], results: Sequence[ClassificationResult],
                    training_pmids: set[str],
                    manifest: dict[str, Any] | None) -> dict[str, Any]:
    """Figures that are never in-sample: the labelled papers the policy's models were not
    trained on (disjoint set), and the training run's own out-of-fold figures."""
    keep = [i for i, e in enumerate(examples) if e.paper.pmid not in training_pmids]
    report: dict[str, Any] = (evaluate([examples[i] for i in keep], [results[i] for i in keep])
                              if keep else {"n": 0})
    report["evaluated_on"] = "labelled papers disjoint from the training data"
    report["in_training_excluded"] = len(examples) - len(keep)
    report["out_of_fold"] = out_of_fold_summary(manifest)
    return report


def format_oof(oof: dict[str, Any] | None) -> list[str]:
    if oof is None:
        return ["no out-of-fold figures recorded for this policy's models"]
    lines = [f"{oof['method']} on the {oof['n']} training papers (from the manifest):",
             f"  relevance accuracy {oof['relevance_accuracy']:.3f}; F1 "
             + ", ".join(f"{k} {v:.3f}" for k, v in oof["relevance_f1"].items())]
    if "design_accuracy" in oof:
        lines += [f"  study design accuracy {oof['design_accuracy']:.3f}; own ME/CFS cohort "
                  f"precision {oof['own_cohort']['precision']:.3f}, recall "
                  f"{oof['own_cohort']['recall']:.3f}; PEM accuracy "
                  f"{oof['pem_accuracy']:.3f}"]
    return lines


def format_honest(report: dict[str, Any]) -> str:
    lines = [f"{report['in_training_excluded']} labelled papers were in the training data: "
             "not evaluated here (their figures would be in-sample)"]
    if report["n"]:
        lines += [f"evaluated on {report['n']} labelled papers disjoint from the training "
                  "data:", format_report(report)]
    else:
        lines.append("no labelled papers disjoint from the training data")
    lines += ["", *format_oof(report["out_of_fold"])]
    return "\n".join(lines)
