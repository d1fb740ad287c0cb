"""One paper in, one classification out, exactly per the contract's JSON schema.

Built from a policy: its case definitions and PEM rules, its relevance operating point,
and its pinned models (the trained artifact and the embedding weights, each checked by
sha256 before use). Cheap stages first: study design and explicit terms are rules;
relevance runs the TF-IDF model on everything and embeddings only where they can change
the outcome; PEM status is read from the text by rules with exact evidence spans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import joblib

from classifiers.policy import Policy

from . import __version__
from .cohort import CohortDecision, CohortModel, own_cohort
from .components import estimator, prepare_study_models
from .design import DESIGNS, NO_PARTICIPANTS, WITH_PARTICIPANTS, DesignResult, classify_design
from .design_model import DesignModel, EmbeddingDesignModel, embeds_design
from .document import FullText, from_plain
from .embedding import Encoder, file_sha256
from .errors import PolicyError
from .fulltext_abstract import abstract_from_fulltext
from .fulltext_reader import classify_with_fulltext, cohort_evidence
from .paper import Paper
from .pem import Definition, PemClassifier
from .relevance import RelevanceCascade
from .result import ClassificationResult


def _artifact_path(policy: Policy) -> Path:
    if policy.relevance.artifact is None:
        raise PolicyError(f"policy {policy.version} pins no relevance artifact; "
                          "run `scanner train` and pin its output")
    return (policy.root / policy.relevance.artifact.path).resolve()


def load_artifact(policy: Policy) -> dict[str, Any]:
    """The trained models, after checking the file against the policy's sha256."""
    path = _artifact_path(policy)
    if not path.is_file():
        raise PolicyError(f"relevance artifact {path} is missing")
    assert policy.relevance.artifact is not None
    actual = file_sha256(path)
    if actual != policy.relevance.artifact.sha256:
        raise PolicyError(f"relevance artifact {path.name} has sha256 {actual}, but policy "
                          f"{policy.version} pins {policy.relevance.artifact.sha256}; "
                          "refusing to load it")
    loaded: dict[str, Any] = joblib.load(path)
    return loaded


def load_pinned(policy: Policy, path: str, sha256: str, what: str) -> Any:
    """A pinned joblib artifact of the policy, after checking its sha256."""
    full = (policy.root / path).resolve()
    if not full.is_file():
        raise PolicyError(f"{what} artifact {full} is missing")
    actual = file_sha256(full)
    if actual != sha256:
        raise PolicyError(f"{what} artifact {full.name} has sha256 {actual}, but policy "
                          f"{policy.version} pins {sha256}; refusing to load it")
    return joblib.load(full)


def _check_estimator(policy: Policy, name: str, model: Any) -> None:
    """The policy names component ``name``: its artifact must hold exactly that estimator."""
    if not isinstance(model, estimator(name)):
        raise PolicyError(f"policy {policy.version} names the relevance component {name!r}, "
                          f"but its artifact holds {type(model).__name__}; retrain with "
                          "`scanner train`")


def policy_pem(policy: Policy) -> PemClassifier:
    """The PEM reader a policy pins: its case definitions and ``[pem]`` rules."""
    return PemClassifier(
        [Definition(id=d.id, name=d.name, pem=d.pem, patterns=d.patterns,
                    ambiguous=d.ambiguous) for d in policy.case_definitions],
        weak_as=policy.pem.weak_as, auto_confidence=policy.pem.auto_confidence,
        rules=policy.pem.rules)


def with_fulltext_abstract(paper: Paper, doc: FullText | None) -> Paper:
    """``paper``, or where its record has no abstract, with its full text's abstract."""
    if paper.abstract.strip() or doc is None or not doc.text:
        return paper
    return dataclasses.replace(paper, abstract=abstract_from_fulltext(doc))


class PaperClassifier:
    """Classifies papers under one policy."""

    def __init__(self, policy: Policy, *, embeddings: bool = True) -> None:
        self.policy = policy
        artifact = load_artifact(policy)
        names = policy.relevance.components
        _check_estimator(policy, "tfidf_lr", artifact.get("tfidf"))
        embedding_model = None
        if "embedding_lr" in names:
            _check_estimator(policy, "embedding_lr", artifact.get("embedding"))
            embedding_model = artifact["embedding"] if embeddings else None
        if embedding_model is not None:
            pin = policy.relevance.embedding
            if pin is None:
                raise PolicyError(f"policy {policy.version} uses embeddings but pins no "
                                  "embedding model")
            embedding_model.encoder = Encoder(pin.package, pin.sha256)
        point = policy.relevance.point()
        self.relevance = RelevanceCascade(
            tfidf=artifact["tfidf"], embedding=embedding_model,
            include_at=point.include_at, exclude_below=point.exclude_below,
            band=tuple(artifact.get("band", (0.02, 0.98))), guard="rules" in names)
        self.pem = policy_pem(policy)
        self.design_model: DesignModel | None = None
        self.cohort_model: CohortModel | None = None
        if policy.study is not None:
            self.design_model = load_pinned(policy, policy.study.design.path,
                                            policy.study.design.sha256, "design")
            self.cohort_model = load_pinned(policy, policy.study.cohort.path,
                                            policy.study.cohort.sha256, "cohort")
            prepare_study_models(policy, self.design_model, self.cohort_model,
                                 embedding_model.encoder if embedding_model else None)

    def study(self, papers: Sequence[Paper], relevance: Sequence[Any] | None = None
              ) -> list[tuple[DesignResult, CohortDecision | None]]:
        """Per paper: its design, and (under a policy with ``[study]``) the own-ME/CFS-
        cohort decision of :func:`classifiers.cohort.own_cohort` (None under v0.1/v0.2)."""
        if self.design_model is None or self.cohort_model is None or \
                self.policy.study is None:
            return [(classify_design(p.title, p.abstract, p.publication_types, p.mesh), None)
                    for p in papers]
        relevance = relevance if relevance is not None else self.relevance.classify(papers)
        if isinstance(self.design_model, EmbeddingDesignModel):
            # embeddings only for the papers that may become drafts (cheap stages first)
            designs = self.design_model.classify(
                papers, [embeds_design(r.label, r.explicit_mecfs) for r in relevance])
        else:
            designs = self.design_model.classify(papers)
        scores = self.cohort_model.score_yes(papers)
        threshold = self.policy.study.cohort_threshold
        out: list[tuple[DesignResult, CohortDecision | None]] = []
        for d, s, r in zip(designs, scores, relevance, strict=True):
            out.append((d, own_cohort(float(s), d, r.label, r.explicit_mecfs, threshold)))
        return out

    def _design_for(self, paper: Paper, design: DesignResult,
                    participants: bool | None) -> DesignResult:
        """``design``, or where the full text says otherwise about participants of the
        paper's own, the design model's likeliest design that agrees with the text."""
        if participants is None or design.human_participants is participants or \
                self.design_model is None:
            return design
        proba = self.design_model.predict_proba([paper])[0]
        allowed = WITH_PARTICIPANTS if participants else NO_PARTICIPANTS
        best = max((d for d in DESIGNS if d in allowed), key=lambda d: proba[DESIGNS.index(d)])
        said = "reported" if participants else "absent"
        return DesignResult(best, participants,
                            f"design model, full text: participants of its own {said}")

    def classify(self, papers: Sequence[Paper],
                 fulltexts: Sequence[str | FullText | None] | None = None, *,
                 missing: Mapping[str, str] | None = None) -> list[ClassificationResult]:
        """One contract-exact result per paper.

        ``fulltexts`` (one per paper, or None): under a policy without ``[fulltext]`` every
        given text is read whole as a third source (policy v0.1); under one with it, only a
        paper whose abstract label is in ``escalate_labels`` reads its full text's methods
        passages (``classifiers/fulltext_reader.py``); one without a full text keeps its
        label, with ``missing[pmid]`` (why there is none) added to the reason.
        """
        spec = self.policy.fulltext
        docs: list[FullText | None] | None = None
        if fulltexts is not None and spec is not None:
            docs = [from_plain(g) if isinstance(g, str) else g for g in fulltexts]
        reads_paper = spec is not None and spec.reader == "passages-2"
        # passages-2: a record without an abstract is judged on its full text's abstract
        # (the models only; the PEM evidence still indexes the record's own texts)
        judged = ([with_fulltext_abstract(p, d) for p, d in zip(papers, docs, strict=True)]
                  if reads_paper and docs is not None else list(papers))
        relevance = self.relevance.classify(judged)
        studies = self.study(judged, relevance)
        out = []
        for i, (paper, rel) in enumerate(zip(papers, relevance, strict=True)):
            design, decision = studies[i]
            cohort: bool | None
            if decision is not None:                # policy with [study]: the cohort model
                cohort = decision.own_cohort
            else:
                # No ME/CFS cohort unless the paper is about ME/CFS and may have participants;
                # where the design rules cannot tell, the PEM reader's own cues decide (None).
                cohort = (False if rel.label != "mecfs" or design.human_participants is False
                          else design.human_participants)
            texts = {"title": paper.title, "abstract": paper.abstract}
            given = fulltexts[i] if fulltexts is not None else None
            doc = docs[i] if docs is not None else None
            if spec is None:                      # policy v0.1: the whole text, as given
                if given:
                    texts["fulltext"] = given.text if isinstance(given, FullText) else given
                pem = self.pem.classify(texts, cohort=cohort)
            else:
                pem = self.pem.classify(texts, cohort=cohort)
                mecfs = rel.label == "mecfs" or rel.explicit_mecfs
                if (reads_paper and doc is not None and doc.text and mecfs
                        and pem.label in (*spec.escalate_labels, "not_applicable")):
                    # the full text decides whether it has participants of its own; the
                    # abstract models where it cannot tell
                    own = cohort_evidence(doc)
                    pem = classify_with_fulltext(self.pem, texts, doc, cohort=None,
                                                 undecided=cohort, evidence=own)
                    design = self._design_for(judged[i], design, own.verdict)
                elif pem.label in spec.escalate_labels and cohort is not False and (
                        fulltexts is not None or missing):
                    if doc is not None and doc.text:
                        pem = classify_with_fulltext(self.pem, texts, doc, cohort=cohort)
                    else:
                        why = (missing or {}).get(paper.pmid, "no full text available")
                        pem = dataclasses.replace(
                            pem, reason=pem.reason.rstrip(".") + f"; {why}.")
            out.append(cast(ClassificationResult, {  # checked against the schema by tests
                "pmid": paper.pmid,
                "policy": self.policy.stamp,
                "scanner_version": __version__,
                "relevance": {"label": rel.label, "score": rel.score, "route": rel.route},
                "pem": {
                    "label": pem.label, "confidence": round(pem.confidence, 6),
                    "route": pem.route, "reason": pem.reason,
                    "definitions": [
                        {"id": d.id, "pem": d.pem, "role": d.role,
                         "evidence": {"text": d.evidence.text, "source": d.evidence.source,
                                      "start": d.evidence.start, "end": d.evidence.end}}
                        for d in pem.definitions],
                },
                "study": {"design": design.design,
                          "human_participants": design.human_participants},
                "retracted": paper.retracted,
            }))
        return out


def _study_manifest(policy: Policy) -> dict[str, Any] | None:
    import json

    if policy.study is None:
        return None
    path = (policy.root / policy.study.design.path).resolve().parent / "manifest.json"
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def training_manifest(policy: Policy) -> dict[str, Any] | None:
    """The manifest of the policy's relevance artifact (None if it has none), with the
    study models' manifest (its ``study`` block) merged in under a policy with ``[study]``."""
    import json

    if policy.relevance.artifact is None:
        return None
    manifest = _artifact_path(policy).parent / "manifest.json"
    if not manifest.is_file():
        return None
    loaded: dict[str, Any] = json.loads(manifest.read_text())
    study = _study_manifest(policy)
    if study is not None and "study" in study:
        loaded = {**loaded, "study": study["study"]}
    return loaded


def training_pmids(policy: Policy) -> set[str]:
    """PMIDs the policy's relevance models were trained on (from the manifest)."""
    import json

    manifest = _artifact_path(policy).parent / "manifest.json"
    pmids: set[str] = set()
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        pmids |= set(data.get("training_data", {}).get("pmids", []))
    study = _study_manifest(policy)            # the study models saw more papers
    if study is not None:
        pmids |= set(study.get("training_data", {}).get("pmids", []))
    return pmids
