"""Agreement figures of dual review: Cohen's kappa and percent agreement per label.

Between the two curators of every round with two decisions (overall and per pair of
curators), and of each curator and of the classifier with the reference label: the
adjudicated label where the round was adjudicated, else the label both curators chose
(a round still waiting for adjudication has no reference for the labels it disagrees
on). The agreed rounds make each curator's agreement with the reference an upper bound
(they agree with themselves there); the curator-curator kappa is the human ceiling.

Intervals, both 95%: kappa by bootstrap percentile over rounds (2,000 resamples, a
fixed seed, resamples where kappa is undefined left out); percent agreement by Wilson's
score interval.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

from classifiers.policy import Policy

from ..store import decisions as dstore
from ..store.db import Database

LABELS = ("relevance", "pem", "design")
RESAMPLES = 2000
SEED = 20261201
Z95 = 1.959963984540054
CI_METHOD = (f"kappa: bootstrap percentile 95% over rounds ({RESAMPLES} resamples, seed "
             f"{SEED}); percent agreement: Wilson score 95%")


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when undefined (no items,
    or both raters gave every item one and the same label)."""
    if len(a) != len(b):
        raise ValueError("the two raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_kappa(a: Sequence[str], b: Sequence[str], *, resamples: int = RESAMPLES,
                    seed: int = SEED) -> tuple[float, float] | None:
    """95% bootstrap percentile interval of kappa (items resampled with replacement)."""
    n = len(a)
    if n < 2:
        return None
    cats = sorted(set(a) | set(b))
    k = len(cats)
    code = {c: i for i, c in enumerate(cats)}
    pairs = np.array([code[x] * k + code[y] for x, y in zip(a, b, strict=True)])
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, resamples, 250):      # bounded memory: 250 x n indices at a time
        m = min(250, resamples - start)
        sample = pairs[rng.integers(0, n, size=(m, n))]
        flat = (np.arange(m)[:, None] * k * k + sample).ravel()
        table = np.bincount(flat, minlength=m * k * k).reshape(m, k, k) / n
        observed = np.trace(table, axis1=1, axis2=2)
        expected = (table.sum(axis=2) * table.sum(axis=1)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            chunks.append(np.where(expected < 1.0, (observed - expected) / (1.0 - expected),
                                   np.nan))
    kappas = np.concatenate(chunks)
    kappas = kappas[~np.isnan(kappas)]
    if kappas.size == 0:
        return None
    lo, hi = np.percentile(kappas, [2.5, 97.5])
    return (float(lo), float(hi))


def stat(a: Sequence[str], b: Sequence[str]) -> dict[str, Any]:
    """n, kappa with its interval, percent agreement with its interval."""
    n = len(a)
    same = sum(x == y for x, y in zip(a, b, strict=True))
    kappa = cohen_kappa(a, b)
    return {"n": n, "kappa": _r(kappa), "kappa_ci": _ri(bootstrap_kappa(a, b)),
            "agreement": _r(same / n if n else None), "agreement_ci": _ri(wilson(same, n))}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _ri(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def reference(r: dict[str, Any], label: str) -> str | None:
    adj = r["adjudication"]
    if adj is not None:
        return str(getattr(adj, label))
    first, second = getattr(r["first"], label), getattr(r["second"], label)
    return str(first) if first == second else None


def compute(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures from :func:`scanner.store.decisions.rounds` (oldest first)."""
    overall = {lab: stat([getattr(r["first"], lab) for r in rounds],
                         [getattr(r["second"], lab) for r in rounds]) for lab in LABELS}
    by_pair: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rounds:
        by_pair[" & ".join(sorted((r["first"].curator, r["second"].curator)))].append(r)
    pairs = {}
    for name, rs in sorted(by_pair.items()):
        first_name = name.split(" & ")[0]
        pairs[name] = {lab: stat(
            [getattr(r["first"] if r["first"].curator == first_name else r["second"], lab)
             for r in rs],
            [getattr(r["second"] if r["first"].curator == first_name else r["first"], lab)
             for r in rs]) for lab in LABELS}
    own: dict[str, dict[str, tuple[list[str], list[str]]]] = defaultdict(
        lambda: {lab: ([], []) for lab in LABELS})
    machine: dict[str, tuple[list[str], list[str]]] = {lab: ([], []) for lab in LABELS}
    for r in rounds:
        for lab in LABELS:
            ref = reference(r, lab)
            if ref is None:
                continue
            for d in (r["first"], r["second"]):
                own[d.curator][lab][0].append(getattr(d, lab))
                own[d.curator][lab][1].append(ref)
            machine[lab][0].append(str(r["first"].classifier.get(lab)))
            machine[lab][1].append(ref)
    over_time = []
    step = max(1, len(rounds) // 100)
    for i in range(len(rounds)):
        if (i + 1) % step and i != len(rounds) - 1:
            continue
        head = rounds[:i + 1]
        point: dict[str, Any] = {"at": rounds[i]["at"].isoformat(), "n": i + 1}
        for lab in LABELS:
            point[lab] = _r(cohen_kappa([getattr(r["first"], lab) for r in head],
                                        [getattr(r["second"], lab) for r in head]))
        over_time.append(point)
    return {
        "rounds": len(rounds),
        "adjudicated": sum(r["adjudication"] is not None for r in rounds),
        "confidence_intervals": CI_METHOD,
        "between_curators": {"overall": overall, "pairs": pairs},
        "against_reference": {
            "curators": {name: {lab: stat(*v[lab]) for lab in LABELS}
                         for name, v in sorted(own.items())},
            "classifier": {lab: stat(*machine[lab]) for lab in LABELS}},
        "over_time": over_time,
    }


def figures(db: Database, policy: Policy) -> dict[str, Any]:
    """The agreement figures of the store, with the policy's own evaluation beside them."""
    with db.read() as conn:
        rounds = dstore.rounds(conn)
    out = {"policy": policy.version, "review_mode": policy.review.mode, **compute(rounds)}
    point = next((op for op in policy.relevance.operating_points
                  if op.name == policy.relevance.operating_point), None)
    out["classifier_evaluation"] = {
        "source": f"policy {policy.version}, operating point "
                  f"{policy.relevance.operating_point} (out-of-fold figures as recorded in "
                  "the policy)",
        "figures": dict(point.validation) if point else {}, "chosen_by":
            point.chosen_by if point else ""}
    return out


# -- the dashboard chart ----------------------------------------------------------------
W, H, PAD = 640, 220, 36
COLOURS = {"relevance": "#2563eb", "pem": "#16a34a", "design": "#dc2626"}


def chart(over_time: list[dict[str, Any]]) -> str:
    """Curator-curator kappa per label over time (cumulative), as inline SVG."""
    if not over_time:
        return _svg(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no rounds with two '
                    'decisions yet</text>')
    values = [p[lab] for p in over_time for lab in LABELS if p[lab] is not None]
    low = min([0.0, *values])
    n = len(over_time)

    def x(i: int) -> float:
        return PAD + (W - 2 * PAD) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return float(H - PAD - (H - 2 * PAD) * (v - low) / (1.0 - low or 1.0))

    parts = [f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
             'stroke="#cbd5e1"/>', f'<text x="4" y="{y(1):.1f}">1</text>',
             f'<text x="4" y="{y(low):.1f}">{low:.2f}</text>']
    for k, lab in enumerate(LABELS):
        pts = [(x(i), y(p[lab]), p) for i, p in enumerate(over_time) if p[lab] is not None]
        if pts:
            parts.append(f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b, _ in pts)}"'
                         f' fill="none" stroke="{COLOURS[lab]}" stroke-width="2"/>')
            parts.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{COLOURS[lab]}">'
                         f'<title>{escape(lab)} kappa {p[lab]} after {p["n"]} rounds '
                         f'({escape(p["at"][:16])})</title></circle>' for a, b, p in pts)
        parts.append(f'<rect x="{PAD + k * 110}" y="4" width="10" height="10" '
                     f'fill="{COLOURS[lab]}"/><text x="{PAD + k * 110 + 14}" y="13">'
                     f'{escape(lab)}</text>')
    parts.append(f'<text x="{PAD}" y="{H - PAD + 14}">{escape(over_time[0]["at"][:10])}</text>'
                 f'<text x="{W - PAD}" y="{H - PAD + 14}" text-anchor="end">'
                 f'{escape(over_time[-1]["at"][:10])}</text>')
    return _svg("".join(parts))


def _svg(body: str) -> str:
    return (f'<svg viewBox="0 0 {W} {H}" role="img" class="chart" '
            f'xmlns="http://www.w3.org/2000/svg" font-size="11">{body}</svg>')


def text_report(fig: dict[str, Any]) -> str:
    """The figures as lines of text (``scanner agreement``)."""
    def fmt(s: dict[str, Any]) -> str:
        if not s["n"]:
            return "n 0"
        kappa = "undefined" if s["kappa"] is None else f"{s['kappa']:.3f}"
        kci = "" if s["kappa_ci"] is None else f" [{s['kappa_ci'][0]:.3f}, {s['kappa_ci'][1]:.3f}]"
        aci = "" if s["agreement_ci"] is None else (
            f" [{s['agreement_ci'][0]:.1%}, {s['agreement_ci'][1]:.1%}]")
        return f"n {s['n']}  kappa {kappa}{kci}  agreement {s['agreement']:.1%}{aci}"

    lines = [f"policy {fig['policy']} (review: {fig['review_mode']}): {fig['rounds']} rounds "
             f"with two decisions, {fig['adjudicated']} adjudicated",
             f"intervals: {fig['confidence_intervals']}", "between curators:"]
    lines += [f"  {lab}: {fmt(s)}" for lab, s in fig["between_curators"]["overall"].items()]
    for pair, labels in fig["between_curators"]["pairs"].items():
        lines += [f"  {pair} {lab}: {fmt(s)}" for lab, s in labels.items()]
    lines.append("against the adjudicated (or agreed) label:")
    for name, labels in fig["against_reference"]["curators"].items():
        lines += [f"  {name} {lab}: {fmt(s)}" for lab, s in labels.items()]
    lines += [f"  classifier {lab}: {fmt(s)}"
              for lab, s in fig["against_reference"]["classifier"].items()]
    ev = fig["classifier_evaluation"]
    lines.append(f"classifier evaluation ({ev['source']}): " + (", ".join(
        f"{k} {v}" for k, v in ev["figures"].items()) or "none recorded"))
    return "\n".join(lines)
