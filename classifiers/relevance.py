"""Relevance to ME/CFS: ``mecfs`` / ``adjacent`` / ``not_relevant``, a score and a route.

Two scikit-learn estimators (estimator conventions: ``__init__`` stores parameters,
``fit`` returns ``self``, learned attributes end in ``_``) and a cascade over them:

- ``tfidf_lr``: TF-IDF word n-grams plus the explicit-term features of
  :mod:`classifiers.terms`, multinomial logistic regression. Cheap; decides most papers.
- ``embedding_lr``: all-MiniLM-L6-v2 embeddings plus the same term features, logistic
  regression. Consulted only where the cheap model is uncertain, or disagrees with an
  explicit ME/CFS term, because there it can change the outcome.

The score is the probability that the paper is relevant (``mecfs`` or ``adjacent``).
Routing uses the policy's operating point, with one guard for recall: a paper that names
ME/CFS explicitly (not by a bare acronym) is never auto-excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .embedding import Encoder
from .paper import Paper
from .terms import TermHits, find_terms

LABELS = ("mecfs", "adjacent", "not_relevant")
ROUTES = ("auto_include", "review", "auto_exclude")
#: How strongly the explicit-term features weigh against TF-IDF's unit-norm rows.
TERM_WEIGHT = 3.0


@lru_cache(maxsize=8192)
def paper_terms(paper: Paper) -> TermHits:
    """The explicit-term hits of a paper, computed once however many stages ask."""
    return find_terms(paper.title, paper.abstract, paper.mesh, paper.keywords)


def term_features(papers: Sequence[Paper]) -> np.ndarray:
    rows = [paper_terms(p).as_features() for p in papers]
    return np.asarray(rows, dtype=np.float64).reshape(len(papers), -1) * TERM_WEIGHT


def _label_index(y: Sequence[str]) -> np.ndarray:
    unknown = sorted(set(y) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown relevance labels: {unknown}")
    return np.asarray([LABELS.index(v) for v in y])


def _proba_in_label_order(model: LogisticRegression, X: Any) -> np.ndarray:
    proba = model.predict_proba(X)
    out = np.zeros((proba.shape[0], len(LABELS)))
    for j, cls in enumerate(model.classes_):
        out[:, int(cls)] = proba[:, j]
    return out


def stable_state(model: Any, *vectorizers: str) -> dict[str, Any]:
    """``model``'s pickle state with the two attributes of its fitted ``vectorizers`` that
    differ between identical training runs removed, so an artifact's bytes (and its pinned
    sha256) repeat: a set pickled in string-hash order, and an object's memory address
    (re-set by every transform). scikit-learn documents ``stop_words_`` as safe to delete;
    ``_stop_words_id`` only feeds a consistency warning."""
    for name in vectorizers:
        vec = model.__dict__.get(name)
        for attr in ("stop_words_", "_stop_words_id"):
            if vec is not None and hasattr(vec, attr):
                delattr(vec, attr)
    return dict(model.__dict__)


def word_vectorizer(min_df: int, max_features: int) -> TfidfVectorizer:
    """The TF-IDF word uni- and bigrams every text model here reads (relevance, design,
    cohort): sublinear, accents stripped, float64."""
    return TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, max_features=max_features,
                           sublinear_tf=True, strip_accents="unicode", dtype=np.float64)


class TfidfRelevance(ClassifierMixin, BaseEstimator):
    def __init__(self, C: float = 8.0, min_df: int = 2, max_features: int = 60000,
                 random_state: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.max_features = max_features
        self.random_state = random_state

    def __getstate__(self) -> dict[str, Any]:
        return stable_state(self, "vectorizer_")

    def _features(self, papers: Sequence[Paper]) -> Any:
        words = self.vectorizer_.transform([p.text for p in papers])
        return sparse.hstack([words, sparse.csr_matrix(term_features(papers))]).tocsr()

    def fit(self, papers: Sequence[Paper], y: Sequence[str]) -> TfidfRelevance:
        self.vectorizer_ = word_vectorizer(self.min_df, self.max_features)
        self.vectorizer_.fit([p.text for p in papers])
        self.model_ = LogisticRegression(C=self.C, max_iter=5000,
                                         random_state=self.random_state)
        self.model_.fit(self._features(papers), _label_index(y))
        self.classes_ = np.asarray(LABELS)
        return self

    def predict_proba(self, papers: Sequence[Paper]) -> np.ndarray:
        return _proba_in_label_order(self.model_, self._features(papers))

    def predict(self, papers: Sequence[Paper]) -> np.ndarray:
        return self.classes_[self.predict_proba(papers).argmax(axis=1)]


class EmbeddingRelevance(ClassifierMixin, BaseEstimator):
    """Logistic regression on sentence embeddings; the encoder is attached, not pickled."""

    def __init__(self, C: float = 4.0, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state
        self.encoder: Encoder | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["encoder"] = None
        return state

    def _features(self, papers: Sequence[Paper]) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError("EmbeddingRelevance needs an encoder attached")
        vectors = self.encoder.encode([p.text for p in papers]).astype(np.float64)
        return np.hstack([vectors, term_features(papers)])

    def fit(self, papers: Sequence[Paper], y: Sequence[str]) -> EmbeddingRelevance:
        self.model_ = LogisticRegression(C=self.C, max_iter=5000,
                                         random_state=self.random_state)
        self.model_.fit(self._features(papers), _label_index(y))
        self.classes_ = np.asarray(LABELS)
        return self

    def predict_proba(self, papers: Sequence[Paper]) -> np.ndarray:
        if not papers:
            return np.zeros((0, len(LABELS)))
        return _proba_in_label_order(self.model_, self._features(papers))

    def predict(self, papers: Sequence[Paper]) -> np.ndarray:
        return self.classes_[self.predict_proba(papers).argmax(axis=1)]


@dataclass(frozen=True, slots=True)
class RelevanceResult:
    label: str
    score: float
    route: str
    used_embedding: bool
    explicit_mecfs: bool


@dataclass
class RelevanceCascade:
    """Cheap model first; the embedding model only inside the uncertain band."""

    tfidf: TfidfRelevance
    embedding: EmbeddingRelevance | None
    include_at: float
    exclude_below: float
    band: tuple[float, float] = (0.02, 0.98)
    #: the ``rules`` component: a paper naming ME/CFS explicitly is never auto-excluded
    guard: bool = True

    def proba(self, papers: Sequence[Paper]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class probabilities, used-embedding mask, explicit-ME/CFS mask)."""
        p = self.tfidf.predict_proba(papers)
        explicit = np.asarray([self.guard and paper_terms(x).mecfs for x in papers],
                              dtype=bool)
        score = 1.0 - p[:, LABELS.index("not_relevant")]
        lo, hi = self.band
        need = ((score >= lo) & (score <= hi)) | (explicit & (score < self.include_at))
        if self.embedding is not None and need.any():
            idx = np.flatnonzero(need)
            p2 = self.embedding.predict_proba([papers[int(i)] for i in idx])
            p[idx] = (p[idx] + p2) / 2.0
        else:
            need = np.zeros(len(papers), dtype=bool)
        return p, need, explicit

    def classify(self, papers: Sequence[Paper]) -> list[RelevanceResult]:
        p, used, explicit = self.proba(papers)
        out = []
        for i in range(len(papers)):
            score = round(float(1.0 - p[i, LABELS.index("not_relevant")]), 6)
            label = LABELS[int(p[i].argmax())]
            if score >= self.include_at:
                route = "auto_include"
            elif score < self.exclude_below and not explicit[i]:
                route = "auto_exclude"
            else:
                route = "review"
            out.append(RelevanceResult(label, min(max(score, 0.0), 1.0), route,
                                       bool(used[i]), bool(explicit[i])))
        return out
