"""The dashboard's figures, from the store, drawn as inline SVG (no script, no CDN)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import func, select

from ..store.db import Database
from ..store.models import Draft, DraftEvent, LabelCorrection

PEM_COLOURS = {"required": "#1b7837", "not_required": "#c2410c", "mixed": "#7c3aed",
               "unclear": "#6b7280", "not_applicable": "#cbd5e1"}
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#64748b")


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    table: list[tuple[str, str]]    # the same figures as text, for screen readers


def figures(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        per_year = conn.execute(select(Draft.pub_year, Draft.pem_label, func.count())
                                .group_by(Draft.pub_year, Draft.pem_label)).all()
        routes = conn.execute(select(Draft.relevance_route, func.count())
                              .group_by(Draft.relevance_route)).all()
        states = dict(conn.execute(select(Draft.state, func.count())
                                   .group_by(Draft.state)).all())
        flow = conn.execute(select(DraftEvent.at, DraftEvent.from_state, DraftEvent.to_state)
                            .where(DraftEvent.from_state.is_distinct_from(DraftEvent.to_state))
                            .order_by(DraftEvent.id)).all()
        decided = conn.execute(select(Draft.relevance_route, Draft.state, func.count())
                               .where(Draft.state != "pending")
                               .group_by(Draft.relevance_route, Draft.state)).all()
        corrected = dict(conn.execute(select(LabelCorrection.field,
                                             func.count(func.distinct(LabelCorrection.pmid)))
                                      .group_by(LabelCorrection.field)).all())
    charts = [_per_year(per_year), _queue_over_time(flow), _routing(routes),
              _agreement(decided, corrected, sum(n for s, n in states.items() if s != "pending"))]
    return {"charts": charts, "states": states}


def _per_year(rows: Sequence[Any]) -> Chart:
    years: dict[int, Counter[str]] = defaultdict(Counter)
    for year, label, n in rows:
        if year is not None:
            years[int(year)][label] += int(n)
    keys = sorted(years)
    series = [(label, [years[y][label] for y in keys]) for label in PEM_COLOURS]
    svg = _stacked_bars([str(y) for y in keys], series, PEM_COLOURS)
    table = [(str(y), ", ".join(f"{k} {v}" for k, v in sorted(years[y].items())))
             for y in keys]
    return Chart("Papers per year by PEM status", svg, table)


def _queue_over_time(flow: Sequence[Any], points: int = 200) -> Chart:
    """Queue size after each change of state, thinned to at most ``points`` points."""
    size = 0
    series: list[tuple[dt.datetime, int]] = []
    for at, old, new in flow:
        size += (new == "pending") - (old == "pending")
        series.append((at, size))
    if len(series) > points:
        step = len(series) / points
        series = [series[int(i * step)] for i in range(points)] + [series[-1]]
    labels = [at.strftime("%Y-%m-%d %H:%M") for at, _ in series]
    svg = _line(labels, [n for _, n in series])
    return Chart("Queue size over time (drafts waiting for review)", svg,
                 list(zip(labels[-14:], [str(n) for _, n in series[-14:]], strict=True)))


def _routing(rows: Sequence[Any]) -> Chart:
    counts = {route: int(n) for route, n in rows}
    labels = sorted(counts)
    colours = dict(zip(labels, PALETTE, strict=False))
    svg = _stacked_bars(labels, [(label, [counts[label] if x == label else 0 for x in labels])
                                 for label in labels], colours)
    return Chart("Routing mix (relevance route of drafted papers)", svg,
                 [(label, str(counts[label])) for label in labels])


def _agreement(decided: Sequence[Any], corrected: dict[str, int], total: int) -> Chart:
    by_route: dict[str, Counter[str]] = defaultdict(Counter)
    for route, state, n in decided:
        by_route[route][state] += int(n)
    rows: list[tuple[str, str]] = []
    labels, values = [], []
    for route in sorted(by_route):
        c = by_route[route]
        n = c["approved"] + c["rejected"]
        share = c["approved"] / n if n else 0.0
        labels.append(f"approved of {route}")
        values.append(share)
        rows.append((f"{route}: approved", f"{c['approved']} of {n} ({share:.0%})"))
    for label in ("relevance", "pem", "design", "definitions"):
        share = 1 - corrected.get(label, 0) / total if total else 1.0
        labels.append(f"{label} label kept")
        values.append(share)
        rows.append((f"{label} label kept by curators",
                     f"{total - corrected.get(label, 0)} of {total} decided ({share:.0%})"))
    return Chart("Curator agreement with the classifier", _hbars(labels, values), rows)


# -- drawing -------------------------------------------------------------------------
W, H, PAD = 640, 220, 36


def _stacked_bars(labels: list[str], series: list[tuple[str, list[int]]],
                  colours: dict[str, str]) -> str:
    if not labels:
        return _empty()
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max(totals) or 1
    step = (W - 2 * PAD) / len(labels)
    parts = []
    for i, label in enumerate(labels):
        y: float = H - PAD
        for name, values in series:
            h = (H - 2 * PAD) * values[i] / top
            if h:
                y -= h
                parts.append(f'<rect x="{PAD + i * step + 2:.1f}" y="{y:.1f}" '
                             f'width="{max(step - 4, 1):.1f}" height="{h:.1f}" '
                             f'fill="{colours.get(name, "#999")}"><title>{escape(label)}: '
                             f'{escape(name)} {values[i]}</title></rect>')
        if len(labels) <= 24 or i % max(1, len(labels) // 12) == 0:
            parts.append(f'<text x="{PAD + (i + .5) * step:.1f}" y="{H - PAD + 14}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    legend = "".join(
        f'<rect x="{PAD + k * 110}" y="4" width="10" height="10" fill="{colours[name]}"/>'
        f'<text x="{PAD + k * 110 + 14}" y="13">{escape(name)}</text>'
        for k, (name, _) in enumerate(series) if name in colours)
    axis = f'<text x="4" y="{PAD}">{top}</text>'
    return _svg(legend + axis + "".join(parts))


def _line(labels: list[str], values: list[int]) -> str:
    if not values:
        return _empty()
    top = max(values) or 1
    n = len(values)
    xs = [PAD + (W - 2 * PAD) * (i / max(n - 1, 1)) for i in range(n)]
    ys = [H - PAD - (H - 2 * PAD) * v / top for v in values]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{escape(lab)}: {v}'
                   f'</title></circle>' for x, y, lab, v in zip(xs, ys, labels, values,
                                                               strict=True))
    ends = (f'<text x="{PAD}" y="{H - PAD + 14}">{escape(labels[0])}</text>'
            f'<text x="{W - PAD}" y="{H - PAD + 14}" text-anchor="end">{escape(labels[-1])}'
            f'</text><text x="4" y="{PAD}">{top}</text>')
    return _svg(f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="2"/>'
                + dots + ends)


def _hbars(labels: list[str], shares: list[float]) -> str:
    if not labels:
        return _empty()
    row = (H - 10) / len(labels)
    parts = []
    for i, (label, share) in enumerate(zip(labels, shares, strict=True)):
        y = 5 + i * row
        parts.append(f'<text x="4" y="{y + row * .65:.1f}">{escape(label)}</text>'
                     f'<rect x="220" y="{y + 2:.1f}" width="{(W - 280) * share:.1f}" '
                     f'height="{max(row - 4, 2):.1f}" fill="#16a34a"/>'
                     f'<text x="{224 + (W - 280) * share:.1f}" y="{y + row * .65:.1f}">'
                     f'{share:.0%}</text>')
    return _svg("".join(parts))


def _empty() -> str:
    return _svg(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no data yet</text>')


def _svg(body: str) -> str:
    return (f'<svg viewBox="0 0 {W} {H}" role="img" class="chart" '
            f'xmlns="http://www.w3.org/2000/svg" font-size="11">{body}</svg>')
