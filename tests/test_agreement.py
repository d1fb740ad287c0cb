"""Cohen's kappa and the agreement figures, against a hand-computed fixture and sklearn."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from scanner.review.agreement import (
    bootstrap_kappa,
    chart,
    cohen_kappa,
    compute,
    stat,
    wilson,
)

# Ten papers' PEM status by two curators. Agreement on 7 of 10 (p_o = 0.7).
# A: required 5, not_required 3, unclear 2; B: required 4, not_required 3, unclear 3.
# p_e = (5*4 + 3*3 + 2*3) / 10**2 = 0.35;  kappa = (0.7 - 0.35) / (1 - 0.35) = 7/13.
A = ["required", "required", "required", "not_required", "not_required", "unclear",
     "required", "not_required", "unclear", "required"]
B = ["required", "required", "not_required", "not_required", "not_required", "unclear",
     "required", "required", "unclear", "unclear"]


def test_kappa_matches_the_hand_computed_value() -> None:
    assert cohen_kappa(A, B) == pytest.approx(7 / 13, abs=1e-12)
    s = stat(A, B)
    assert s["n"] == 10 and s["agreement"] == 0.7 and s["kappa"] == round(7 / 13, 4)


def test_kappa_matches_scikit_learn() -> None:
    assert cohen_kappa(A, B) == pytest.approx(cohen_kappa_score(A, B), abs=1e-12)
    rng = random.Random(7)
    labels = ["mecfs", "adjacent", "not_relevant"]
    for n in (2, 5, 30, 400):
        a = [rng.choice(labels) for _ in range(n)]
        # correlated second rater: copies the first 70% of the time
        b = [x if rng.random() < 0.7 else rng.choice(labels) for x in a]
        if len(set(a) | set(b)) > 1:
            assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None     # p_e = 1: undefined
    assert cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    assert cohen_kappa(["x", "y"], ["y", "x"]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa(["x"], ["x", "y"])


def test_intervals() -> None:
    lo, hi = wilson(7, 10)                 # Wilson score 95% for 7/10
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)
    assert wilson(0, 0) is None
    ci = bootstrap_kappa(A, B)
    assert ci is not None and ci == bootstrap_kappa(A, B)    # fixed seed: reproducible
    assert -1 <= ci[0] <= 7 / 13 <= ci[1] <= 1
    assert bootstrap_kappa(A, A) == pytest.approx((1.0, 1.0))


def _d(curator: str, pem: str, design: str = "observational", relevance: str = "mecfs",
       classifier_pem: str = "unclear") -> Any:
    return SimpleNamespace(curator=curator, pem=pem, design=design, relevance=relevance,
                           classifier={"pem": classifier_pem, "design": "observational",
                                       "relevance": "mecfs"})


def test_figures_use_the_adjudicated_or_agreed_label_as_reference() -> None:
    t0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    rounds = [
        # agreed: reference required; classifier said unclear
        {"first": _d("alice", "required"), "second": _d("bob", "required"),
         "adjudication": None, "at": t0},
        # disagreed, adjudicated to not_required (bob right, alice wrong)
        {"first": _d("alice", "required"), "second": _d("bob", "not_required"),
         "adjudication": SimpleNamespace(pem="not_required", design="observational",
                                         relevance="mecfs"), "at": t0},
        # disagreed, waiting: no reference for pem
        {"first": _d("carol", "mixed"), "second": _d("alice", "required"),
         "adjudication": None, "at": t0},
    ]
    fig = compute(rounds)
    assert fig["rounds"] == 3 and fig["adjudicated"] == 1
    pem = fig["between_curators"]["overall"]["pem"]
    assert pem["n"] == 3 and pem["agreement"] == round(1 / 3, 4)
    assert pem["kappa"] == round(cohen_kappa(["required", "required", "mixed"],
                                             ["required", "not_required", "required"]), 4)
    assert set(fig["between_curators"]["pairs"]) == {"alice & bob", "alice & carol"}
    ref = fig["against_reference"]
    assert ref["curators"]["alice"]["pem"]["n"] == 2
    assert ref["curators"]["alice"]["pem"]["agreement"] == 0.5
    assert ref["curators"]["bob"]["pem"]["agreement"] == 1.0
    # carol's only round waits for adjudication on pem: no pem reference; design agreed
    assert ref["curators"]["carol"]["pem"]["n"] == 0
    assert ref["curators"]["carol"]["design"] == {**ref["curators"]["carol"]["design"],
                                                  "n": 1, "agreement": 1.0}
    assert ref["classifier"]["pem"]["n"] == 2 and ref["classifier"]["pem"]["agreement"] == 0
    assert ref["classifier"]["design"]["agreement"] == 1.0
    assert [p["n"] for p in fig["over_time"]] == [1, 2, 3]
    svg = chart(fig["over_time"])
    assert svg.startswith("<svg") and "<script" not in svg and "polyline" in svg
