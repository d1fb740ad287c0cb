"""Does a paper report its own ME/CFS participants? A trained yes/no model and the decision.

``cohort_lr`` (registered in :mod:`classifiers.components`): logistic regression on TF-IDF word
n-grams of the title and abstract, the explicit-term features of :mod:`classifiers.terms`
(ME/CFS named, long COVID, ...) and the design tokens of :mod:`classifiers.design_model`.
Trained on the labelled set's PEM column: a paper has its own ME/CFS cohort exactly when
its PEM label is not ``not_applicable`` (the labelling rubric gives a PEM label other
than ``not_applicable`` only to ME/CFS papers with participants selected as ME/CFS).

``cohort_lr_mecfs`` (:class:`MecfsCohortModel`, policy v0.4 on): the same features plus the
text cues of :func:`classifiers.design_model.meta_tokens_with_cues`, trained only on the
papers :func:`own_cohort` asks the model about (labelled ``mecfs`` or naming ME/CFS
explicitly), so that it learns what separates an ME/CFS study with its own participants
from an ME/CFS review, hypothesis or re-analysis rather than ME/CFS from everything else.

:func:`own_cohort` is the decision the pipeline (and the full-text reader, through the
classification result's ``study`` block) uses: no cohort for a design without human
participants (in vitro, animal, review, guideline, commentary), none for a paper that
neither is labelled ``mecfs`` nor names ME/CFS explicitly, otherwise the model's
probability against the policy's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from .design import DesignResult
from .design_model import (
    META_WEIGHT,
    _meta_tokens,
    _text,
    meta_tokens_with_cues,
    meta_vectorizer,
)
from .paper import Paper
from .relevance import paper_terms, stable_state, term_features, word_vectorizer

LABELS = ("no", "yes")


def cohort_label(pem_label: str) -> str:
    """The yes/no training label from a labelled row's PEM column."""
    return "no" if pem_label == "not_applicable" else "yes"


class CohortModel(ClassifierMixin, BaseEstimator):
    def __init__(self, C: float = 4.0, min_df: int = 2, max_features: int = 50000,
                 random_state: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.max_features = max_features
        self.random_state = random_state

    def __getstate__(self) -> dict[str, Any]:
        return stable_state(self, "vectorizer_", "meta_")

    def _meta_texts(self, papers: Sequence[Paper]) -> list[str]:
        return [_meta_tokens(p) for p in papers]

    def _features(self, papers: Sequence[Paper]) -> Any:
        words = self.vectorizer_.transform([_text(p) for p in papers])
        meta = self.meta_.transform(self._meta_texts(papers)) * META_WEIGHT
        return sparse.hstack([words, meta, sparse.csr_matrix(term_features(papers))]).tocsr()

    def fit(self, papers: Sequence[Paper], y: Sequence[str]) -> CohortModel:
        unknown = sorted(set(y) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown cohort labels: {unknown}")
        self.vectorizer_ = word_vectorizer(self.min_df, self.max_features)
        self.vectorizer_.fit([_text(p) for p in papers])
        self.meta_ = meta_vectorizer()
        self.meta_.fit(self._meta_texts(papers))
        self.model_ = LogisticRegression(C=self.C, max_iter=5000, class_weight="balanced",
                                         random_state=self.random_state)
        self.model_.fit(self._features(papers), [LABELS.index(v) for v in y])
        self.classes_ = np.asarray(LABELS)
        return self

    def predict_proba(self, papers: Sequence[Paper]) -> np.ndarray:
        if not papers:
            return np.zeros((0, 2))
        proba = self.model_.predict_proba(self._features(papers))
        out = np.zeros((len(papers), 2))
        for j, cls in enumerate(self.model_.classes_):
            out[:, int(cls)] = proba[:, j]
        return out

    def score_yes(self, papers: Sequence[Paper]) -> np.ndarray:
        """P(the paper reports its own ME/CFS participants)."""
        return self.predict_proba(papers)[:, 1]

    def predict(self, papers: Sequence[Paper]) -> np.ndarray:
        return self.classes_[(self.score_yes(papers) >= 0.5).astype(int)]


def in_scope(paper: Paper, relevance_label: str | None) -> bool:
    """Whether :func:`own_cohort` reads the cohort model's score for this paper: it is
    labelled ``mecfs``, or it names ME/CFS explicitly."""
    return relevance_label == "mecfs" or paper_terms(paper).mecfs


class MecfsCohortModel(CohortModel):
    """``cohort_lr_mecfs``: trained on ME/CFS papers only, with text cues (module docstring).

    ``fit``'s ``relevance`` (the training rows' relevance labels) says which papers are
    ME/CFS papers; without it, only papers naming ME/CFS explicitly are.
    """

    def _meta_texts(self, papers: Sequence[Paper]) -> list[str]:
        return [meta_tokens_with_cues(p) for p in papers]

    def fit(self, papers: Sequence[Paper], y: Sequence[str],
            relevance: Sequence[str | None] | None = None) -> MecfsCohortModel:
        labels = list(relevance) if relevance is not None else [None] * len(papers)
        if len(labels) != len(papers) or len(y) != len(papers):
            raise ValueError("papers, y and relevance differ in length")
        keep = [i for i, p in enumerate(papers) if in_scope(p, labels[i])]
        super().fit([papers[i] for i in keep], [y[i] for i in keep])
        return self


@dataclass(frozen=True, slots=True)
class CohortDecision:
    own_cohort: bool
    score: float
    reason: str


def own_cohort(score: float, design: DesignResult, relevance_label: str,
               explicit_mecfs: bool, threshold: float) -> CohortDecision:
    """The own-ME/CFS-cohort verdict from the model's score and the other judgements."""
    if design.human_participants is False:
        return CohortDecision(False, score, f"design {design.design}: no participants")
    if relevance_label != "mecfs" and not explicit_mecfs:
        return CohortDecision(False, score, "not an ME/CFS paper")
    if score >= threshold:
        return CohortDecision(True, score, f"cohort model {score:.2f} >= {threshold}")
    return CohortDecision(False, score, f"cohort model {score:.2f} < {threshold}")

