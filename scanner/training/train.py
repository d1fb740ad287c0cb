"""``scanner train``: fit the relevance models deterministically and choose thresholds.

Writes the artifact (both fitted models, joblib) and a manifest (library versions, seed,
training-data hash, cross-validated figures, candidate operating points). Thresholds are
chosen on out-of-fold predictions of the whole cascade, never on the data a model saw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import StratifiedKFold

from classifiers.components import estimator
from classifiers.embedding import Encoder, file_sha256
from classifiers.relevance import LABELS, EmbeddingRelevance, RelevanceCascade, TfidfRelevance
from scanner import __version__

from .datasets import Example, dataset_sha256
from .evaluate import calibration, per_label

BAND = (0.02, 0.98)
#: Goals from the issue, with margins: at most 2% of ME/CFS papers auto-excluded, at
#: least 95% of auto-included papers relevant.
MAX_MECFS_EXCLUDED = 0.005
MIN_INCLUDE_PRECISION = 0.97
#: Adjacent papers matter too: at most this share of all relevant papers auto-excluded
#: (balanced), and half of it for the sensitive point.
MAX_RELEVANT_EXCLUDED = 0.02
LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "torch", "sentence-transformers",
             "transformers", "lxml")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class TrainResult:
    artifact: Path
    artifact_sha256: str
    manifest: dict[str, Any]


def _fit(papers: list[Any], y: list[str], encoder: Encoder | None,
         seed: int) -> tuple[TfidfRelevance, EmbeddingRelevance | None]:
    """The relevance estimators, built from the component registry: ``tfidf_lr``, and
    ``embedding_lr`` when there is an encoder (the policy names it and embeddings are on)."""
    tfidf: TfidfRelevance = estimator("tfidf_lr")(random_state=seed).fit(papers, y)
    emb = None
    if encoder is not None:
        emb = estimator("embedding_lr")(random_state=seed)
        emb.encoder = encoder
        emb.fit(papers, y)
    return tfidf, emb


def out_of_fold(examples: Sequence[Example], encoder: Encoder | None, *, seed: int = 0,
                folds: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cascade probabilities for every example from a model that did not see it."""
    papers = [e.paper for e in examples]
    y = [e.labels["relevance"] for e in examples]
    proba = np.zeros((len(papers), len(LABELS)))
    used = np.zeros(len(papers), dtype=bool)
    explicit = np.zeros(len(papers), dtype=bool)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        tfidf, emb = _fit([papers[i] for i in train_idx], [y[i] for i in train_idx],
                          encoder, seed)
        cascade = RelevanceCascade(tfidf, emb, include_at=1.0, exclude_below=0.0, band=BAND)
        p, u, x = cascade.proba([papers[i] for i in test_idx])
        proba[test_idx], used[test_idx], explicit[test_idx] = p, u, x
    return proba, used, explicit


def routing_figures(scores: np.ndarray, explicit: np.ndarray, y: Sequence[str],
                    include_at: float, exclude_below: float) -> dict[str, float]:
    y_arr = np.asarray(y)
    relevant = np.isin(y_arr, ["mecfs", "adjacent"])
    mecfs = y_arr == "mecfs"
    include = scores >= include_at
    exclude = (scores < exclude_below) & ~explicit & ~include
    n = len(scores)
    return {
        "auto_include_precision": float(relevant[include].mean()) if include.any() else 1.0,
        "mecfs_auto_excluded": float((exclude & mecfs).sum() / max(mecfs.sum(), 1)),
        "relevant_auto_excluded": float((exclude & relevant).sum() / max(relevant.sum(), 1)),
        "auto_routed": float((include | exclude).sum() / max(n, 1)),
        "auto_include": float(include.sum() / max(n, 1)),
        "auto_exclude": float(exclude.sum() / max(n, 1)),
    }


def choose_operating_points(scores: np.ndarray, explicit: np.ndarray,
                            y: Sequence[str]) -> list[dict[str, Any]]:
    """The most automatic thresholds that still meet the goals, for two tolerances."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    include_at = next((float(t) for t in grid if routing_figures(
        scores, explicit, y, t, 0.0)["auto_include_precision"] >= MIN_INCLUDE_PRECISION),
        0.99)
    points = []
    for name, max_relevant in (("balanced", MAX_RELEVANT_EXCLUDED),
                               ("sensitive", MAX_RELEVANT_EXCLUDED / 2)):
        ok = [float(t) for t in grid if t < include_at
              and (f := routing_figures(scores, explicit, y, include_at, t))
              ["mecfs_auto_excluded"] <= MAX_MECFS_EXCLUDED
              and f["relevant_auto_excluded"] <= max_relevant]
        exclude_below = max(ok) if ok else 0.0
        points.append({"name": name, "include_at": include_at, "exclude_below": exclude_below,
                       "validation": routing_figures(scores, explicit, y, include_at,
                                                     exclude_below)})
    return points


def train(examples: Sequence[Example], out_dir: Path, *, encoder: Encoder | None,
          label_files: Sequence[Path], seed: int = 0, folds: int = 5,
          oof: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> TrainResult:
    """``oof``: :func:`out_of_fold`'s result when the caller computed it already."""
    papers = [e.paper for e in examples]
    y = [e.labels["relevance"] for e in examples]
    proba, used, explicit = oof if oof is not None else out_of_fold(
        examples, encoder, seed=seed, folds=folds)
    scores = 1.0 - proba[:, LABELS.index("not_relevant")]
    points = choose_operating_points(scores, explicit, y)
    tfidf, emb = _fit(papers, y, encoder, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = out_dir / "relevance.joblib"
    joblib.dump({"tfidf": tfidf, "embedding": emb, "band": BAND}, artifact, compress=3)
    artifact_sha = file_sha256(artifact)
    oof_labels = [LABELS[i] for i in proba.argmax(axis=1)]
    manifest: dict[str, Any] = {
        "created_by": f"scanner train {__version__}",
        "created_at": dt.date.today().isoformat(),
        "artifact": {"path": artifact.name, "sha256": artifact_sha},
        "seed": seed,
        "folds": folds,
        "libraries": library_versions(),
        "embedding": None if encoder is None else {
            "package": encoder.package, "sha256": encoder.sha256},
        "training_data": {
            "files": [{"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                      for p in label_files],
            "sha256": dataset_sha256(list(examples)),
            "counts": {lab: y.count(lab) for lab in LABELS},
            "pmids": sorted(p.pmid for p in papers),
        },
        "cross_validated": {
            "accuracy": float(np.mean([a == b for a, b in zip(oof_labels, y, strict=True)])),
            "embedding_share": float(used.mean()),
            "relevance": per_label(y, oof_labels, LABELS),
            "calibration": calibration(
                scores, np.isin(y, ["mecfs", "adjacent"]).astype(float)),
        },
        "operating_points": points,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return TrainResult(artifact, artifact_sha, manifest)


def policy_snippet(result: TrainResult, artifact_rel: str) -> str:
    """The TOML that pins this training run in a policy file."""
    lines = ['operating_point = "balanced"', "",
             "[relevance.artifact]", f'path = "{artifact_rel}"',
             f'sha256 = "{result.artifact_sha256}"', ""]
    for op in result.manifest["operating_points"]:
        figures = ", ".join(f"{k} = {v:.4f}" for k, v in op["validation"].items())
        lines += ["[[relevance.operating_points]]", f'name = "{op["name"]}"',
                  f'include_at = {op["include_at"]}', f'exclude_below = {op["exclude_below"]}',
                  'chosen_by = "5-fold out-of-fold cascade scores on the labelled set"',
                  f"validation = {{ {figures} }}", ""]
    return "\n".join(lines)
