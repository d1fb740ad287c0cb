"""Ask a question in plain words: rank approved entries, quote the sentences that match.

Two rankers over each entry's source text (its title and abstract), fused by reciprocal
rank fusion (RRF, k = 60, the usual constant; not tuned on any question set):

- lexical: Okapi BM25 (``bm25s``, English stop words removed) over the source text and
  the curator-approved summary;
- semantic: cosine similarity of the pinned all-MiniLM-L6-v2 embeddings (the policy's
  ``[relevance.embedding]`` pin, checked by :class:`classifiers.embedding.Encoder`)
  between the question and each sentence of the source text; an entry scores by its
  best sentence.

The quote shown for an entry is one sentence of its source text, verbatim: the one
whose embedding is closest to the question (with BM25 alone: the sentence sharing the
most question terms).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.pem import split_sentences
from classifiers.policy import Policy

from ..errors import ScannerError

RRF_K = 60
_WORD = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
MODES = ("hybrid", "bm25", "dense")


class AskError(ScannerError):
    """A question that cannot be asked (empty, too long)."""

    exit_code = 2


@dataclass(frozen=True)
class Answer:
    pmid: str
    score: float
    quote: str
    title: str
    pem_label: str
    badge: str
    rank: int

    def to_json(self) -> dict[str, Any]:
        return {"pmid": self.pmid, "score": round(self.score, 6), "quote": self.quote,
                "title": self.title, "pem_label": self.pem_label, "badge": self.badge,
                "rank": self.rank}


def source_sentences(entry: Mapping[str, Any]) -> list[str]:
    """The entry's source text (title, then abstract) as verbatim sentences."""
    out: list[str] = []
    for text in (str(entry.get("title") or ""), str(entry.get("abstract") or "")):
        for start, end in split_sentences(text):
            sentence = text[start:end].strip()
            if len(_WORD.findall(sentence.lower())) >= 3:
                out.append(sentence)
    return out or [str(entry.get("title") or "")]


def _tokens(text: str) -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    stop = set(STOPWORDS_EN)
    return [w for w in _WORD.findall(text.lower()) if w not in stop]


class AskIndex:
    """The rankers over one set of entries; built once, asked many times."""

    def __init__(self, entries: Sequence[Mapping[str, Any]], policy: Policy | None = None, *,
                 cache_dir: Path | None = None) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)   # it sets DEBUG on import
        self.entries = list(entries)
        self.sentences = [source_sentences(e) for e in self.entries]
        docs = [" ".join([*s, str(e.get("fields", {}).get("summary") or "")])
                for e, s in zip(self.entries, self.sentences, strict=True)]
        self._bm25 = bm25s.BM25()
        corpus = [_tokens(d) or ["_"] for d in docs]
        self._bm25.index(corpus, show_progress=False)
        self.policy = policy
        self.cache_dir = cache_dir
        self._encoder: Any = None
        self._vectors: np.ndarray | None = None
        self._owner: np.ndarray | None = None

    # -- the rankers --------------------------------------------------------------------
    def bm25_scores(self, question: str) -> np.ndarray:
        query = _tokens(question)
        if not query or not self.entries:
            return np.zeros(len(self.entries), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query), dtype=np.float32)

    def encoder(self) -> Any:
        if self._encoder is None:
            pin = self.policy.relevance.embedding if self.policy else None
            if pin is None:
                raise ScannerError("the policy pins no embedding model; use --mode bm25")
            from classifiers.embedding import Encoder

            enc = Encoder(pin.package, pin.sha256, threads=1)
            if self.cache_dir is not None:
                from classifiers.embedding_cache import CachedEncoder

                enc = CachedEncoder.wrap(enc, self.cache_dir)
            self._encoder = enc
        return self._encoder

    def _sentence_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        if self._vectors is None:
            flat = [s for sents in self.sentences for s in sents]
            owner = [i for i, sents in enumerate(self.sentences) for _ in sents]
            self._vectors = self.encoder().encode(flat)
            self._owner = np.asarray(owner, dtype=np.int64)
        assert self._owner is not None
        return self._vectors, self._owner

    def dense_scores(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """Per entry: the best sentence's cosine; and the cosine of every sentence."""
        vectors, owner = self._sentence_vectors()
        q = self.encoder().encode([question])[0]
        sims = vectors @ q
        best = np.full(len(self.entries), -1.0, dtype=np.float32)
        np.maximum.at(best, owner, sims)
        return best, sims

    # -- asking -------------------------------------------------------------------------
    def ask(self, question: str, limit: int = 5, mode: str = "hybrid") -> list[Answer]:
        question = " ".join(question.split())
        if not question:
            raise AskError("ask a question: the text is empty")
        if len(question) > 500:
            raise AskError("the question is too long (at most 500 characters)")
        if mode not in MODES:
            raise AskError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if not self.entries:
            return []
        lexical = self.bm25_scores(question)
        sims: np.ndarray | None = None
        if mode == "bm25":
            score = lexical
            order = _rank(lexical)
            order = [i for i in order if lexical[i] > 0]
        else:
            dense, sims = self.dense_scores(question)
            if mode == "dense":
                score, order = dense, _rank(dense)
            else:
                score = _rrf([_rank(lexical, keep=lexical > 0), _rank(dense)],
                             len(self.entries))
                order = _rank(score)
        out = []
        for rank, i in enumerate(order[:limit], start=1):
            e = self.entries[i]
            out.append(Answer(pmid=str(e["pmid"]), score=float(score[i]),
                              quote=self._quote(i, question, sims), title=str(e["title"]),
                              pem_label=str(e.get("pem_label") or ""),
                              badge=str(e.get("badge") or ""), rank=rank))
        return out

    def _quote(self, i: int, question: str, sims: np.ndarray | None) -> str:
        sentences = self.sentences[i]
        if sims is not None and self._owner is not None:
            idx = np.flatnonzero(self._owner == i)
            return sentences[int(np.argmax(sims[idx]))]
        terms = set(_tokens(question))
        return max(sentences, key=lambda s: len(terms & set(_tokens(s))))


def _rank(scores: np.ndarray, keep: np.ndarray | None = None) -> list[int]:
    """Indices by descending score, ties by position (entries are in PMID order)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    if keep is not None:
        order = [i for i in order if keep[i]]
    return order


def _rrf(rankings: Sequence[Sequence[int]], n: int) -> np.ndarray:
    fused = np.zeros(n, dtype=np.float64)
    for ranking in rankings:
        for pos, i in enumerate(ranking):
            fused[i] += 1.0 / (RRF_K + pos + 1)
    return fused
