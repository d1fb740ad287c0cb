"""Training and out-of-fold evaluation of the study-design and own-cohort models.

Every figure here is out-of-fold: stratified K-fold with a fixed seed, grouped so that a
paper and its near-duplicates (same normalised title, e.g. one study recorded twice under
two PMIDs) never sit on both sides of a split. The relevance labels and explicit-term
flags that the cohort decision needs come out-of-fold too (from the relevance cascade's
own cross-validation, passed in by the caller).

The one choice made on out-of-fold predictions is which publication-type rules stay in
front of the design model (:func:`classifiers.design_model.choose_rule_pubtypes`, one
yes/no per publication type); the figures say so. The cohort threshold is fixed at 0.5,
not tuned.

The components to train are chosen by name (:mod:`classifiers.components`: ``design_lr``
or ``design_lr_emb``, ``cohort_lr`` or ``cohort_lr_mecfs``); one that reads embeddings needs
the ``encoder``. ``extra`` examples (labelled for training only) join every fold's training
data and the final fit, but are never scored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from classifiers.cohort import LABELS as COHORT_LABELS
from classifiers.cohort import MecfsCohortModel, cohort_label, own_cohort
from classifiers.components import STUDY_COHORT, STUDY_DESIGN, attach_encoder, estimator
from classifiers.design import DESIGNS, classify_design
from classifiers.design_model import (
    EmbeddingDesignModel,
    _combine,
    choose_rule_pubtypes,
    embeds_design,
)
from classifiers.embedding import Encoder, file_sha256
from classifiers.pem import PemClassifier

from .datasets import Example
from .evaluate import per_label

COHORT_THRESHOLD = 0.5


def groups(examples: Sequence[Example]) -> list[str]:
    """One group per normalised title (a PMID where the title is empty)."""
    out = []
    for e in examples:
        title = re.sub(r"[^a-z0-9]+", " ", e.paper.title.lower()).strip()
        out.append(title or e.paper.pmid)
    return out


def folds(examples: Sequence[Example], y: Sequence[str], *, k: int = 5,
          seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, grouped K-fold splits (no PMID or duplicate title on both sides)."""
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), list(y), groups(examples)))


def _design_rows(examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.labels.get("design")]


def _cohort_rows(examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.labels.get("pem")]


def fit_design(examples: Sequence[Example], *, component: str = "design_lr",
               encoder: Encoder | None = None, seed: int = 0,
               rule_pubtypes: Sequence[str] = ()) -> Any:
    """The design component ``component`` fitted on ``examples``."""
    if component not in STUDY_DESIGN:
        raise ValueError(f"{component!r} is not a design component ({', '.join(STUDY_DESIGN)})")
    model = estimator(component)(random_state=seed)
    attach_encoder([model], encoder)
    return model.fit([e.paper for e in examples], [e.labels["design"] for e in examples],
                     rule_pubtypes=rule_pubtypes)


def fit_cohort(examples: Sequence[Example], *, component: str = "cohort_lr",
               encoder: Encoder | None = None, seed: int = 0) -> Any:
    """The cohort component ``component`` fitted on ``examples`` (``cohort_lr_mecfs`` on
    those among them labelled ``mecfs`` or naming ME/CFS)."""
    if component not in STUDY_COHORT:
        raise ValueError(f"{component!r} is not a cohort component ({', '.join(STUDY_COHORT)})")
    model = estimator(component)(random_state=seed)
    attach_encoder([model], encoder)
    papers = [e.paper for e in examples]
    y = [cohort_label(e.labels["pem"]) for e in examples]
    if isinstance(model, MecfsCohortModel):
        return model.fit(papers, y, relevance=[e.labels.get("relevance") for e in examples])
    return model.fit(papers, y)


def oof_design(examples: Sequence[Example], *, k: int = 5, seed: int = 0,
               component: str = "design_lr", encoder: Encoder | None = None,
               extra: Sequence[Example] = (), embed: Sequence[bool] | None = None
               ) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold design probabilities, and the publication-type rules that win on them.

    ``extra`` examples (those with a design label) join every fold's training data.
    ``embed`` (per example, :func:`classifiers.design_model.embeds_design`): for
    ``design_lr_emb``, the papers whose embedding is read, as the pipeline runs it; the
    rest are decided by the fold model's plain ``light_`` model."""
    papers = [e.paper for e in examples]
    y = [e.labels["design"] for e in examples]
    more = _design_rows(extra)
    proba = np.zeros((len(papers), len(DESIGNS)))
    for train_idx, test_idx in folds(examples, y, k=k, seed=seed):
        model = fit_design([examples[i] for i in train_idx] + more, component=component,
                           encoder=encoder, seed=seed)
        test = [papers[i] for i in test_idx]
        if isinstance(model, EmbeddingDesignModel) and embed is not None:
            proba[test_idx] = model.predict_proba(test, [embed[i] for i in test_idx])
        else:
            proba[test_idx] = model.predict_proba(test)
    return proba, choose_rule_pubtypes(papers, y, proba)


def oof_cohort(examples: Sequence[Example], *, k: int = 5, seed: int = 0,
               component: str = "cohort_lr", encoder: Encoder | None = None,
               extra: Sequence[Example] = ()) -> np.ndarray:
    """Out-of-fold P(own ME/CFS cohort); ``extra`` examples (those with a PEM label) join
    every fold's training data."""
    papers = [e.paper for e in examples]
    y = [cohort_label(e.labels["pem"]) for e in examples]
    more = _cohort_rows(extra)
    scores = np.zeros(len(papers))
    for train_idx, test_idx in folds(examples, y, k=k, seed=seed):
        model = fit_cohort([examples[i] for i in train_idx] + more, component=component,
                           encoder=encoder, seed=seed)
        scores[test_idx] = model.score_yes([papers[i] for i in test_idx])
    return scores


def _binary(truth: Sequence[bool], pred: Sequence[bool]) -> dict[str, Any]:
    t, p = np.asarray(truth, bool), np.asarray(pred, bool)
    tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
    return {"precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "tp": tp, "fp": fp, "fn": fn, "tn": int((~t & ~p).sum()), "support": int(t.sum())}


def evaluate_oof(examples: Sequence[Example], design_proba: np.ndarray,
                 rule_pubtypes: Sequence[str], cohort_scores: np.ndarray,
                 relevance_labels: Sequence[str], explicit: Sequence[bool],
                 pem: PemClassifier, *, threshold: float = COHORT_THRESHOLD,
                 k: int = 5) -> dict[str, Any]:
    """Design, own-cohort and PEM figures from out-of-fold predictions."""
    papers = [e.paper for e in examples]
    y_design = [e.labels["design"] for e in examples]
    rules = [classify_design(p.title, p.abstract, p.publication_types, p.mesh)
             for p in papers]
    combined = [_combine(p, pr, rule_pubtypes) for p, pr in zip(papers, design_proba,
                                                               strict=True)]
    model_only = [DESIGNS[int(pr.argmax())] for pr in design_proba]
    decisions = [own_cohort(float(s), d, r, bool(x), threshold)
                 for s, d, r, x in zip(cohort_scores, combined, relevance_labels, explicit,
                                       strict=True)]
    truth = [cohort_label(e.labels["pem"]) == "yes" for e in examples]
    pem_pred = [pem.classify({"title": p.title, "abstract": p.abstract},
                             cohort=d.own_cohort).label
                for p, d in zip(papers, decisions, strict=True)]
    pem_true = [e.labels["pem"] for e in examples]
    mecfs = [e.labels["relevance"] == "mecfs" for e in examples]
    no_part = [mecfs[i] and y_design[i] in ("review", "commentary", "guideline", "in_vitro",
                                             "animal", "other") and not truth[i]
               for i in range(len(examples))]
    unclear_cohorts = [pem_true[i] == "unclear" for i in range(len(examples))]
    human_given = [c.human_participants is True for c in combined]
    no_humans_true = [y in ("in_vitro", "animal", "review") for y in y_design]
    relevant = [e.labels["relevance"] in ("mecfs", "adjacent") for e in examples]
    return {
        "method": f"out-of-fold, {k}-fold stratified, grouped by normalised title, seed 0",
        "n": len(examples),
        "design": {
            "combined": per_label(y_design, [c.design for c in combined], DESIGNS),
            "mecfs_or_adjacent": {
                "n": sum(relevant),
                "accuracy": float(np.mean([c.design == t for c, t, r in zip(
                    combined, y_design, relevant, strict=True) if r])) if any(relevant)
                else None},
            "model_only": {"accuracy": float(np.mean(
                [a == b for a, b in zip(model_only, y_design, strict=True)]))},
            "rules_only": {"accuracy": float(np.mean(
                [r.design == t for r, t in zip(rules, y_design, strict=True)]))},
            "rule_pubtypes": list(rule_pubtypes),
            "rule_pubtypes_chosen_on": "these out-of-fold predictions",
            "in_vitro_animal_review_given_participants": int(sum(
                a and b for a, b in zip(human_given, no_humans_true, strict=True))),
        },
        "own_cohort": {**_binary(truth, [d.own_cohort for d in decisions]),
                       "threshold": threshold,
                       "errors": [{"pmid": e.paper.pmid, "expected": t, "score": round(
                           float(s), 3)} for e, t, d, s in zip(
                           examples, truth, decisions, cohort_scores, strict=True)
                           if t != d.own_cohort]},
        "pem": {
            **per_label(pem_true, pem_pred, ("required", "not_required", "mixed",
                                             "unclear", "not_applicable")),
            "mecfs_without_own_participants_not_applicable": [
                sum(n and p == "not_applicable" for n, p in zip(no_part, pem_pred,
                                                                 strict=True)),
                sum(no_part)],
            "unclear_cohorts_read_unclear": [
                sum(u and p == "unclear" for u, p in zip(unclear_cohorts, pem_pred,
                                                          strict=True)),
                sum(unclear_cohorts)],
            "claims_where_label_has_none": sum(
                p in ("required", "not_required", "mixed") and t in ("unclear",
                                                                     "not_applicable")
                for p, t in zip(pem_pred, pem_true, strict=True)),
        },
    }


def fit_and_write(examples: Sequence[Example], out_dir: Path, rule_pubtypes: Sequence[str],
                  *, seed: int = 0, design: str = "design_lr", cohort: str = "cohort_lr",
                  encoder: Encoder | None = None,
                  extra: Sequence[Example] = ()) -> dict[str, dict[str, str]]:
    """Fit both models on every example (and ``extra``); write design.joblib and
    cohort.joblib (an encoder is never pickled: the pipeline attaches one)."""
    design_model = fit_design(list(examples) + _design_rows(extra), component=design,
                              encoder=encoder, seed=seed, rule_pubtypes=rule_pubtypes)
    cohort_model = fit_cohort(list(examples) + _cohort_rows(extra), component=cohort,
                              encoder=encoder, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    pins = {}
    for name, model in (("design", design_model), ("cohort", cohort_model)):
        path = out_dir / f"{name}.joblib"
        joblib.dump(model, path, compress=3)
        pins[name] = {"path": path.name, "sha256": file_sha256(path)}
    return pins


__all__ = ["COHORT_LABELS", "COHORT_THRESHOLD", "evaluate_oof",
           "fit_and_write", "fit_cohort", "fit_design", "folds", "groups", "oof_cohort",
           "oof_design", "train_all", "train_study_only"]


def train_all(examples: Sequence[Example], out_dir: Path, *, encoder: Any,
              label_files: Sequence[Path], pem: PemClassifier, seed: int = 0,
              k: int = 5, design: str = "design_lr", cohort: str = "cohort_lr",
              extra: Sequence[Example] = ()) -> dict[str, Any]:
    """Relevance, design and cohort models for one policy version, with one manifest.

    Writes relevance.joblib (``scanner.training.train``), design.joblib, cohort.joblib and
    manifest.json (library versions, seed, training data, every figure out-of-fold).
    ``design`` and ``cohort`` name the study components (``encoder`` serves both the
    relevance embedding model and a study component that reads embeddings); ``extra``
    examples train the study models only (never scored) and their PMIDs join the
    manifest's training PMIDs.
    """
    import json

    from classifiers.relevance import LABELS as RELEVANCE_LABELS

    from .train import out_of_fold, train

    oof = out_of_fold(examples, encoder, seed=seed, folds=k)
    result = train(examples, out_dir, encoder=encoder, label_files=label_files, seed=seed,
                   folds=k, oof=oof)
    relevance_labels = [RELEVANCE_LABELS[i] for i in oof[0].argmax(axis=1)]
    explicit = [bool(x) for x in oof[2]]
    design_proba, rule_pubtypes = oof_design(
        examples, k=k, seed=seed, component=design, encoder=encoder, extra=extra,
        embed=[embeds_design(r, x) for r, x in zip(relevance_labels, explicit, strict=True)])
    cohort_scores = oof_cohort(examples, k=k, seed=seed, component=cohort, encoder=encoder,
                               extra=extra)
    figures = evaluate_oof(examples, design_proba, rule_pubtypes, cohort_scores,
                           relevance_labels, explicit, pem, k=k)
    pins = fit_and_write(examples, out_dir, rule_pubtypes, seed=seed, design=design,
                         cohort=cohort, encoder=encoder, extra=extra)
    manifest = result.manifest
    manifest["cross_validated"]["method"] = (
        f"out-of-fold, {k}-fold stratified (relevance: by label; design and cohort: also "
        "grouped by normalised title), seed 0")
    manifest["study"] = {"components": [design, cohort],
                         "design": pins["design"], "cohort": pins["cohort"],
                         "cohort_threshold": COHORT_THRESHOLD,
                         "rule_pubtypes": list(rule_pubtypes),
                         "cross_validated": figures}
    manifest["training_data"]["design_counts"] = {
        d: sum(e.labels["design"] == d for e in examples) for d in DESIGNS}
    if extra:
        extra_pmids = sorted({e.paper.pmid for e in extra})
        manifest["training_data"]["study_extra_pmids"] = extra_pmids
        manifest["training_data"]["pmids"] = sorted(
            set(manifest["training_data"].get("pmids", [])) | set(extra_pmids))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def train_study_only(examples: Sequence[Example], out_dir: Path, *, encoder: Encoder | None,
                     label_files: Sequence[Path], pem: PemClassifier, keep_relevance: str,
                     seed: int = 0, k: int = 5, design: str = "design_lr",
                     cohort: str = "cohort_lr", extra: Sequence[Example] = (),
                     extra_files: Sequence[Path] = ()) -> dict[str, Any]:
    """Design and cohort models for a new policy version that keeps an earlier version's
    relevance models (``keep_relevance``: that artifact's path, recorded in the manifest).

    Every figure is out-of-fold; the relevance labels and explicit-term flags the cohort
    decision and the design cascade need are the relevance TF-IDF component's own
    out-of-fold labels on these examples (as for v0.3). Writes design.joblib,
    cohort.joblib and manifest.json.
    """
    import datetime as dt
    import hashlib
    import json

    from classifiers import __version__
    from classifiers.relevance import LABELS as RELEVANCE_LABELS

    from .datasets import dataset_sha256
    from .train import library_versions, out_of_fold

    oof = out_of_fold(examples, None, seed=seed, folds=k)
    relevance_labels = [RELEVANCE_LABELS[i] for i in oof[0].argmax(axis=1)]
    explicit = [bool(x) for x in oof[2]]
    design_proba, rule_pubtypes = oof_design(
        examples, k=k, seed=seed, component=design, encoder=encoder, extra=extra,
        embed=[embeds_design(r, x) for r, x in zip(relevance_labels, explicit, strict=True)])
    figures_note = "one model for every paper"
    if design == "design_lr_emb":
        figures_note = ("cascade as run: the embedding model for papers relevant or naming "
                        "ME/CFS (out-of-fold relevance), the plain model for the rest")
    cohort_scores = oof_cohort(examples, k=k, seed=seed, component=cohort, encoder=encoder,
                               extra=extra)
    figures = evaluate_oof(examples, design_proba, rule_pubtypes, cohort_scores,
                           relevance_labels, explicit, pem, k=k)
    figures["design"]["as_run"] = figures_note
    pins = fit_and_write(examples, out_dir, rule_pubtypes, seed=seed, design=design,
                         cohort=cohort, encoder=encoder, extra=extra)
    files = [*label_files, *extra_files]
    extra_pmids = sorted({e.paper.pmid for e in extra})
    manifest: dict[str, Any] = {
        "created_by": f"scanner train-study --keep-relevance {__version__}",
        "created_at": dt.date.today().isoformat(),
        "seed": seed,
        "folds": k,
        "libraries": library_versions(),
        "embedding": None if encoder is None else {
            "package": encoder.package, "sha256": encoder.sha256},
        "relevance": {"kept": keep_relevance},
        "training_data": {
            "files": [{"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                      for p in files],
            "sha256": dataset_sha256(list(examples) + list(extra)),
            "pmids": sorted({e.paper.pmid for e in examples} | set(extra_pmids)),
            "study_extra_pmids": extra_pmids,
            "design_counts": {d: sum(e.labels["design"] == d for e in examples)
                              for d in DESIGNS},
        },
        "study": {"components": [design, cohort], "design": pins["design"],
                  "cohort": pins["cohort"], "cohort_threshold": COHORT_THRESHOLD,
                  "rule_pubtypes": list(rule_pubtypes), "cross_validated": figures},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
