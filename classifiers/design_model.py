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

``design_lr_emb`` (:class:`EmbeddingDesignModel`, policy v0.4 on): the same model with the
paper's all-MiniLM-L6-v2 embedding appended as dense features (the text the relevance
embedding model reads, so one embedding cache serves both). Its encoder is attached after
loading (:func:`classifiers.components.prepare_study_models`), never pickled.

:func:`meta_tokens_with_cues` adds text cues (systematic review / meta-analysis, a review's
own wording, hypothesis or perspective, a count of participants, existing data) to the
meta tokens; the ME/CFS-scoped cohort model (``cohort_lr_mecfs``) reads them, for records
that carry no publication types or MeSH (many ME/CFS records do not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer
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
from .relevance import stable_state, word_vectorizer

if TYPE_CHECKING:
    from .embedding import Encoder

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


def meta_vectorizer() -> CountVectorizer:
    """Binary counts of the meta tokens (:func:`_meta_tokens`), split on whitespace."""
    return CountVectorizer(binary=True, token_pattern=_TOKENS, lowercase=False,
                           dtype=np.float64)


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


#: Text cues that say what kind of paper it is where no publication type says so; each is
#: one meta token when it matches the title or abstract (case-insensitive).
CUES = {
    "cue_sysrev": (
        r"\bsystematic(?:ally)?\s+(?:review|search|literature)|\bmeta-?analy|\bPRISMA\b"
        r"|\bscoping\s+review|\bumbrella\s+review|\bliterature\s+(?:search|review)"
        r"|\bwe\s+(?:searched|screened|identified\s+\d+\s+(?:studies|articles|trials))"
        r"|\bdatabases?\s+(?:were|was)\s+searched"
        r"|\bsearched\s+(?:in\s+)?(?:PubMed|MEDLINE|Embase|Scopus|Web\s+of\s+Science"
        r"|the\s+literature)"
        r"|\b(?:studies|articles|trials)\s+(?:were\s+)?(?:included|met\s+the\s+inclusion)"),
    "cue_review": (
        r"\b(?:this|the\s+present|our|a)\s+(?:narrative\s+|comprehensive\s+|critical\s+"
        r"|brief\s+|mini-?\s*|short\s+|systematic\s+)?review\b"
        r"|\bwe\s+(?:review|summari[sz]e|discuss|highlight|outline)\b"
        r"|\b(?:here|in\s+this\s+(?:review|article|paper|chapter)),?\s+we\s+(?:review"
        r"|summari[sz]e|discuss|describe|highlight|explore|examine)"
        r"|\bthis\s+(?:article|paper|chapter|perspective)\s+(?:reviews|summari[sz]es"
        r"|discusses|explores|examines|highlights)"
        r"|\b(?:current|recent)\s+(?:evidence|literature|knowledge|understanding)\b"),
    "cue_hypothesis": (
        r"\bwe\s+(?:propose|hypothesi[sz]e|suggest)\s+(?:that|a)\b|\bhypothesis\b"
        r"|\bperspective\b|\bopinion\b"),
    "cue_own_sample": (
        r"\b(?:\d+|[a-z]+-?[a-z]*)\s+(?:patients|participants|subjects|individuals|adults"
        r"|adolescents|children|women|men|cases|controls)\b"
        r"|\bwere\s+(?:recruited|enrolled|randomi[sz]ed)|\bn\s*=\s*\d+"),
    "cue_existing_data": (
        r"\bbiobank\b|\bpublicly\s+available\b|\bpublished\s+(?:data|datasets?)\b"
        r"|\bGWAS\s+summary\b|\bsecondary\s+analysis\b|\bre-?analy"),
}
_CUES = {name: re.compile(rx, re.IGNORECASE) for name, rx in CUES.items()}


def cue_tokens(paper: Paper) -> list[str]:
    """The names of the :data:`CUES` that match the paper's title or abstract."""
    text = _text(paper)
    return [name for name, rx in _CUES.items() if rx.search(text)]


def meta_tokens_with_cues(paper: Paper) -> str:
    """:func:`_meta_tokens` plus the paper's text cues."""
    return " ".join([_meta_tokens(paper), *cue_tokens(paper)])


def embed(encoder: Encoder | None, papers: Sequence[Paper], owner: str) -> np.ndarray:
    """Unit-length embeddings of the papers' model text (:attr:`Paper.text`, as the
    relevance embedding model reads it, so the encoder's cache serves both)."""
    if encoder is None:
        raise RuntimeError(f"{owner} needs an encoder attached")
    return encoder.encode([p.text for p in papers]).astype(np.float64)


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
        self.vectorizer_ = word_vectorizer(self.min_df, self.max_features)
        self.vectorizer_.fit([_text(p) for p in papers])
        self.meta_ = meta_vectorizer()
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


def embeds_design(relevance_label: str, explicit_mecfs: bool) -> bool:
    """Whether :class:`EmbeddingDesignModel` reads a paper's embedding: only papers that
    may become drafts (relevant, or naming ME/CFS); its plain ``light_`` model decides
    the rest. The pipeline and the out-of-fold figures both ask this."""
    return relevance_label != "not_relevant" or explicit_mecfs


class EmbeddingDesignModel(DesignModel):
    """:class:`DesignModel` with the paper's MiniLM embedding appended (``design_lr_emb``).

    The unit-length embedding is multiplied by ``embedding_weight`` (2.0: chosen on the
    out-of-fold figures of the labelled set, among 1, 2 and 4). The encoder is attached,
    not pickled: the pipeline sets ``encoder`` after loading.

    Cheap stages first: ``light_``, the plain :class:`DesignModel` fitted on the same
    papers, decides every paper not in ``embed`` (the pipeline embeds only the papers that
    may become drafts: relevant, or naming ME/CFS), a few per cent of a scan's papers.
    """

    def __init__(self, C: float = 6.0, min_df: int = 2, max_features: int = 50000,
                 random_state: int = 0, embedding_weight: float = 2.0) -> None:
        super().__init__(C=C, min_df=min_df, max_features=max_features,
                         random_state=random_state)
        self.embedding_weight = embedding_weight
        self.encoder: Encoder | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["encoder"] = None
        return state

    def _features(self, papers: Sequence[Paper]) -> Any:
        vectors = embed(self.encoder, papers, type(self).__name__) * self.embedding_weight
        return sparse.hstack([super()._features(papers), sparse.csr_matrix(vectors)]).tocsr()

    def fit(self, papers: Sequence[Paper], y: Sequence[str],
            rule_pubtypes: Sequence[str] = ()) -> EmbeddingDesignModel:
        super().fit(papers, y, rule_pubtypes=rule_pubtypes)
        self.light_ = DesignModel(C=self.C, min_df=self.min_df,
                                  max_features=self.max_features,
                                  random_state=self.random_state).fit(
            papers, y, rule_pubtypes=rule_pubtypes)
        return self

    def predict_proba(self, papers: Sequence[Paper],
                      embed: Sequence[bool] | None = None) -> np.ndarray:
        """Class probabilities; papers where ``embed`` is False from ``light_``."""
        if embed is None or all(embed):
            return super().predict_proba(papers)
        out = np.zeros((len(papers), len(DESIGNS)))
        heavy = [i for i, e in enumerate(embed) if e]
        light = [i for i, e in enumerate(embed) if not e]
        if heavy:
            out[heavy] = super().predict_proba([papers[i] for i in heavy])
        if light:
            out[light] = self.light_.predict_proba([papers[i] for i in light])
        return out

    def classify(self, papers: Sequence[Paper],
                 embed: Sequence[bool] | None = None) -> list[DesignResult]:
        proba = self.predict_proba(papers, embed)
        return [_combine(paper, p, self.rule_pubtypes_)
                for paper, p in zip(papers, proba, strict=True)]


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

