"""Study design as a trained model, with the publication-type rules kept where they win.

``design_lr`` (registered in :mod:`classifiers.components`, named by policies): logistic
regression on TF-IDF word n-grams of the title and abstract, the NLM publication types
and MeSH check tags as tokens, and the verdict of the design rules
(:mod:`classifiers.design`) as one-hot features, so the rules inform the model instead of
overriding it. On top of the model,
publication-type rules whose out-of-fold accuracy on the papers they fire on is at least
the model's are kept as overrides (``rule_pubtypes_``, chosen at training time by
:func:`choose_rule_pubtypes`; errata and retraction notices are always notices).

Human participants follow from the design: none for in vitro, animal, review, guideline
and commentary; present for trials, observational, case reports and qualitative studies;
for ``other`` the rules' own judgement (a notice has none; an algorithm study on patient
images may have some).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .design import (
    _PUBTYPE_RULES,
    DESIGNS,
    NO_PARTICIPANTS,
    NOTICES,
    WITH_PARTICIPANTS,
    DesignResult,
    classify_design,
)
from .paper import Paper
from .relevance import stable_state

#: MeSH descriptors that say who or what was studied.
CHECK_TAGS = ("Humans", "Animals", "Male", "Female", "In Vitro Techniques", "Cells, Cultured",
              "Cell Line", "Mice", "Rats")
#: The meta-token vectorizer splits on whitespace only.
_TOKENS = r"\S+"
#: How strongly the rule and publication-type features weigh against TF-IDF rows.
META_WEIGHT = 2.0


@lru_cache(maxsize=8192)
def rule_design(paper: Paper) -> DesignResult:
    """The design rules' verdict on a paper, computed once however many models ask."""
    return classify_design(paper.title, paper.abstract, paper.publication_types, paper.mesh)


def _meta_tokens(paper: Paper) -> str:
    """Publication types, check tags and the rules' verdict as one token string."""
    rule = rule_design(paper)
    tokens = [f"rule_{rule.design}"]
    tokens += ["pt_" + "_".join(p.lower().replace(",", "").split())
               for p in paper.publication_types]
    tokens += ["mesh_" + "_".join(m.lower().replace(",", "").split())
               for m in paper.mesh if m in CHECK_TAGS]
    if not paper.abstract:
        tokens.append("no_abstract")
    return " ".join(tokens)


def _text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}"


class DesignModel(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression over the 11 designs (see the module docstring)."""

    def __init__(self, C: float = 6.0, min_df: int = 2, max_features: int = 50000,
                 random_state: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.max_features = max_features
        self.random_state = random_state

    def __getstate__(self) -> dict[str, Any]:
        return stable_state(self, "vectorizer_", "meta_")

    def _features(self, papers: Sequence[Paper]) -> Any:
        words = self.vectorizer_.transform([_text(p) for p in papers])
        meta = self.meta_.transform([_meta_tokens(p) for p in papers]) * META_WEIGHT
        return sparse.hstack([words, meta]).tocsr()

    def fit(self, papers: Sequence[Paper], y: Sequence[str],
            rule_pubtypes: Sequence[str] = ()) -> DesignModel:
        unknown = sorted(set(y) - set(DESIGNS))
        if unknown:
            raise ValueError(f"unknown design labels: {unknown}")
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df,
                                           max_features=self.max_features, sublinear_tf=True,
                                           strip_accents="unicode", dtype=np.float64)
        self.vectorizer_.fit([_text(p) for p in papers])
        self.meta_ = CountVectorizer(binary=True, token_pattern=_TOKENS, lowercase=False,
                                     dtype=np.float64)
        self.meta_.fit([_meta_tokens(p) for p in papers])
        self.model_ = LogisticRegression(C=self.C, max_iter=5000,
                                         random_state=self.random_state)
        self.model_.fit(self._features(papers), [DESIGNS.index(v) for v in y])
        self.classes_ = np.asarray(DESIGNS)
        self.rule_pubtypes_ = tuple(rule_pubtypes)
        return self

    def predict_proba(self, papers: Sequence[Paper]) -> np.ndarray:
        if not papers:
            return np.zeros((0, len(DESIGNS)))
        proba = self.model_.predict_proba(self._features(papers))
        out = np.zeros((len(papers), len(DESIGNS)))
        for j, cls in enumerate(self.model_.classes_):
            out[:, int(cls)] = proba[:, j]
        return out

    def classify(self, papers: Sequence[Paper]) -> list[DesignResult]:
        """Design and human participants per paper, rules first where they were kept."""
        proba = self.predict_proba(papers)
        out = []
        for paper, p in zip(papers, proba, strict=True):
            out.append(_combine(paper, p, self.rule_pubtypes_))
        return out

    def predict(self, papers: Sequence[Paper]) -> np.ndarray:
        return np.asarray([r.design for r in self.classify(papers)])


def _rule_pubtype(paper: Paper) -> str | None:
    """The publication type that decides the rules' verdict, if one does."""
    pubtypes = set(paper.publication_types)
    return next((pt for pt, _ in _PUBTYPE_RULES if pt in pubtypes), None)


def _combine(paper: Paper, p: np.ndarray, rule_pubtypes: Sequence[str]) -> DesignResult:
    rule = rule_design(paper)
    pubtype = _rule_pubtype(paper)
    if pubtype in NOTICES or (pubtype is not None and pubtype in rule_pubtypes):
        return rule
    design = DESIGNS[int(p.argmax())]
    reason = f"design model ({p.max():.2f})"
    if design in NO_PARTICIPANTS:
        return DesignResult(design, False, reason)
    if design in WITH_PARTICIPANTS:
        return DesignResult(design, True, reason)
    humans = rule.human_participants if rule.design == "other" else None
    return DesignResult(design, humans, reason)


def choose_rule_pubtypes(papers: Sequence[Paper], y: Sequence[str],
                         oof_proba: np.ndarray) -> list[str]:
    """Publication types whose rule is at least as accurate out-of-fold as the model.

    For every publication type that decides a rule verdict, compare on the papers it
    decides: the rule's accuracy against the model's out-of-fold accuracy.
    """
    kept = []
    by_pubtype: dict[str, list[int]] = {}
    for i, paper in enumerate(papers):
        pt = _rule_pubtype(paper)
        if pt is not None and pt not in NOTICES:
            by_pubtype.setdefault(pt, []).append(i)
    for pt, idx in sorted(by_pubtype.items()):
        rule_right = sum(rule_design(papers[i]).design == y[i] for i in idx)
        model_right = sum(DESIGNS[int(oof_proba[i].argmax())] == y[i] for i in idx)
        if rule_right >= model_right:
            kept.append(pt)
    return kept

