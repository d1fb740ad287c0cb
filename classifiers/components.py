"""Every classifier component a policy can name, in one registry.

A policy lists its components by name (``[relevance] components``, ``[study]
components``); loading a policy checks each name here, and training and the pipeline build
the estimators from here, so a policy that names a component means that component runs.
Estimator classes are imported on first use (this module stays light: policies are loaded
by commands that never classify).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .embedding import Encoder
    from .policy import Policy

#: relevance: ``rules`` is the explicit-term recall guard (a paper naming ME/CFS is never
#: auto-excluded); ``tfidf_lr`` runs on every paper (required: the cascade's first stage);
#: ``embedding_lr`` (MiniLM embeddings + LR) only inside the uncertain band.
RELEVANCE = ("rules", "tfidf_lr", "embedding_lr")
#: study: one design model, ``design_lr`` (TF-IDF and metadata) or ``design_lr_emb`` (also
#: the MiniLM embedding; needs the policy's ``[relevance.embedding]`` pin); one own-ME/CFS-
#: cohort model, ``cohort_lr`` or ``cohort_lr_mecfs`` (trained on ME/CFS papers, text cues).
STUDY_DESIGN = ("design_lr", "design_lr_emb")
STUDY_COHORT = ("cohort_lr", "cohort_lr_mecfs")
STUDY = STUDY_DESIGN + STUDY_COHORT

_ESTIMATORS = {
    "tfidf_lr": ("classifiers.relevance", "TfidfRelevance"),
    "embedding_lr": ("classifiers.relevance", "EmbeddingRelevance"),
    "design_lr": ("classifiers.design_model", "DesignModel"),
    "cohort_lr": ("classifiers.cohort", "CohortModel"),
    "design_lr_emb": ("classifiers.design_model", "EmbeddingDesignModel"),
    "cohort_lr_mecfs": ("classifiers.cohort", "MecfsCohortModel"),
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


def check_study(names: tuple[str, ...]) -> tuple[str, ...]:
    """``[study] components``, validated: one design and one cohort component, known names."""
    unknown = [n for n in names if n not in STUDY]
    if unknown:
        raise ValueError(f"unknown study component(s) {', '.join(unknown)}; "
                         f"known: {', '.join(STUDY)}")
    for kind, known in (("design", STUDY_DESIGN), ("cohort", STUDY_COHORT)):
        if sum(n in known for n in names) != 1:
            raise ValueError(f"name exactly one {kind} component ({', '.join(known)})")
    return names


def needs_encoder(model: Any) -> bool:
    """Whether ``model`` reads sentence embeddings (it has an ``encoder`` to attach)."""
    return "encoder" in getattr(model, "__dict__", {})


def attach_encoder(models: Sequence[Any], encoder: Encoder | None) -> None:
    """Give every model that reads embeddings ``encoder`` (refused if there is none)."""
    for model in models:
        if needs_encoder(model):
            if encoder is None:
                raise ValueError(f"{type(model).__name__} needs an embedding encoder")
            model.encoder = encoder


def prepare_study_models(policy: Policy, design: Any, cohort: Any,
                         shared: Encoder | None = None) -> None:
    """After loading a policy's study artifacts: check that each is the estimator the
    policy's ``[study] components`` name, and attach an encoder to those that read
    embeddings: ``shared`` (the relevance embedding model's, so one cache serves both)
    or, without one, a new encoder for the policy's ``[relevance.embedding]`` pin."""
    from .errors import PolicyError

    if policy.study is None:
        return
    for model, known in ((design, STUDY_DESIGN), (cohort, STUDY_COHORT)):
        name = next(n for n in policy.study.components if n in known)
        if type(model) is not estimator(name):
            raise PolicyError(f"policy {policy.version} names the study component {name!r}, "
                              f"but its artifact holds {type(model).__name__}")
    if not any(needs_encoder(m) for m in (design, cohort)):
        return
    if shared is None:
        pin = policy.relevance.embedding
        if pin is None:
            raise PolicyError(f"policy {policy.version}'s study models read embeddings, but "
                              "it pins no embedding model ([relevance.embedding])")
        from .embedding import Encoder

        shared = Encoder(pin.package, pin.sha256)
    attach_encoder((design, cohort), shared)
