"""Every classifier component a policy can name, in one registry.

A policy lists its components by name (``[relevance] components``, ``[study]
components``); loading a policy checks each name here, and training and the pipeline build
the estimators from here, so a policy that names a component means that component runs.
Estimator classes are imported on first use (this module stays light: policies are loaded
by commands that never classify).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: relevance: ``rules`` is the explicit-term recall guard (a paper naming ME/CFS is never
#: auto-excluded); ``tfidf_lr`` runs on every paper (required: the cascade's first stage);
#: ``embedding_lr`` (MiniLM embeddings + LR) only inside the uncertain band.
RELEVANCE = ("rules", "tfidf_lr", "embedding_lr")
#: study: ``design_lr`` (study design), ``cohort_lr`` (own ME/CFS participants).
STUDY = ("design_lr", "cohort_lr")

_ESTIMATORS = {
    "tfidf_lr": ("classifiers.relevance", "TfidfRelevance"),
    "embedding_lr": ("classifiers.relevance", "EmbeddingRelevance"),
    "design_lr": ("classifiers.design_model", "DesignModel"),
    "cohort_lr": ("classifiers.cohort", "CohortModel"),
}


def estimator(name: str) -> Any:
    """The scikit-learn estimator class registered as ``name``."""
    try:
        module, attr = _ESTIMATORS[name]
    except KeyError:
        raise KeyError(f"unknown component {name!r}; known: "
                       f"{', '.join(sorted(_ESTIMATORS))}") from None
    return getattr(import_module(module), attr)


def check_relevance(names: tuple[str, ...]) -> tuple[str, ...]:
    """``[relevance] components``, validated: known names, once each, ``tfidf_lr`` in."""
    unknown = [n for n in names if n not in RELEVANCE]
    if unknown:
        raise ValueError(f"unknown relevance component(s) {', '.join(unknown)}; "
                         f"known: {', '.join(RELEVANCE)}")
    if len(set(names)) != len(names):
        raise ValueError("a component is named twice")
    if "tfidf_lr" not in names:
        raise ValueError("tfidf_lr is required (the cascade's first stage)")
    return names
