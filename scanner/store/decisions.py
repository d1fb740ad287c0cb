"""Dual review in the store: each curator's blind decision, adjudications, and the
queue conditions that allocate the work.

A draft's decisions belong to a round: ``drafts.review_round`` counts the decisions
(approve or reject) the draft has had, so the rows of the current round are those with
``round == drafts.review_round``; a re-queued draft starts a new round and the earlier
rounds stay as they were. Every row added here also adds one ``draft_events`` row
whose detail carries no label, so the audit trail never shows a decision to the other
curator before they decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, case, func, insert, or_, select
from sqlalchemy.orm import aliased

from ..errors import ReviewError
from .models import Adjudication, Draft, DraftEvent, ReviewDecision

DECISIONS = ("approve", "reject")
LABEL_KEYS = ("relevance", "pem", "design")


def _current(table: Any) -> Any:
    """``table``'s rows of their draft's current round (an uncorrelated subquery)."""
    d = aliased(Draft)
    return (select(table.draft_id)
            .join(d, and_(d.id == table.draft_id, table.round == d.review_round)))


def queue_conditions(reviewer: str | None, adjudicator: str | None) -> list[ColumnElement[bool]]:
    """SQL conditions on ``drafts`` for a dual-review queue.

    ``reviewer``: drafts this curator has not decided in the current round and that have
    fewer than two decisions (a third curator never gets a first or second decision).
    ``adjudicator``: drafts with two decisions (they disagreed, or the round would have
    closed), not yet adjudicated, on which this user was not one of the curators.
    Each is one uncorrelated set over the current rounds' decisions (10,000 drafts:
    benchmarks/dual_queue.py).
    """
    conds: list[ColumnElement[bool]] = []
    mine = func.sum(case((ReviewDecision.curator == (reviewer or adjudicator), 1), else_=0))
    if reviewer:
        busy = (_current(ReviewDecision).group_by(ReviewDecision.draft_id)
                .having(or_(func.count() >= 2, mine > 0)))
        conds.append(Draft.id.not_in(busy))
    if adjudicator:
        waiting = (_current(ReviewDecision).group_by(ReviewDecision.draft_id)
                   .having(and_(func.count() >= 2, mine == 0)))
        conds.append(Draft.id.in_(waiting))
        conds.append(Draft.id.not_in(_current(Adjudication)))
    return conds


def lock(conn: Connection, pmid: str) -> None:
    """Hold the draft's row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite
    writes are serialised by ``BEGIN IMMEDIATE``), so two racing decisions cannot both be
    the second one."""
    conn.execute(select(Draft.id).where(Draft.pmid == pmid).with_for_update())


def decisions(conn: Connection, draft_id: int, round: int | None = None) -> list[Row[Any]]:
    """The draft's decisions (of one round, or all), oldest first."""
    stmt = select(ReviewDecision.__table__).where(ReviewDecision.draft_id == draft_id)
    if round is not None:
        stmt = stmt.where(ReviewDecision.round == round)
    return list(conn.execute(stmt.order_by(ReviewDecision.round, ReviewDecision.id)).all())


def adjudications(conn: Connection, draft_id: int) -> dict[int, Row[Any]]:
    rows = conn.execute(select(Adjudication.__table__)
                        .where(Adjudication.draft_id == draft_id)).all()
    return {int(r.round): r for r in rows}


def _check(labels: Mapping[str, Any], decision: str) -> None:
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    missing = [k for k in LABEL_KEYS if not labels.get(k)]
    if missing:
        raise ReviewError(f"decide every label: missing {', '.join(missing)}")


def _event(conn: Connection, draft: Row[Any], *, actor: str, action: str,
           detail: Mapping[str, Any], now: dt.datetime) -> None:
    conn.execute(insert(DraftEvent).values(
        draft_id=draft.id, pmid=draft.pmid, at=now, actor=actor, action=action,
        from_version=draft.version, to_version=draft.version, from_state=draft.state,
        to_state=draft.state, detail=dict(detail)))


def add_decision(conn: Connection, draft: Row[Any], *, curator: str,
                 labels: Mapping[str, str], evidence: Mapping[str, Any], decision: str,
                 note: str | None, fields: Mapping[str, str], now: dt.datetime,
                 policy_version: str) -> None:
    """Store one curator's decision in the draft's current round (two at most)."""
    _check(labels, decision)
    current = decisions(conn, draft.id, draft.review_round)
    if any(d.curator == curator for d in current):
        raise ReviewError("you already decided this draft; the second decision is another "
                          "curator's")
    if len(current) >= 2:
        raise ReviewError("this draft already has its two decisions")
    conn.execute(insert(ReviewDecision).values(
        draft_id=draft.id, pmid=draft.pmid, round=draft.review_round, curator=curator,
        relevance=labels["relevance"], pem=labels["pem"], design=labels["design"],
        evidence=dict(evidence), decision=decision, note=note, fields=dict(fields),
        classifier={"relevance": draft.relevance_label, "pem": draft.pem_label,
                    "design": draft.design},
        decided_at=now, policy_version=policy_version))
    # No labels in the detail: other curators can read the audit trail.
    _event(conn, draft, actor=curator, action="review_decision", now=now,
           detail={"round": draft.review_round, "decision_number": len(current) + 1})


def add_adjudication(conn: Connection, draft: Row[Any], *, adjudicator: str,
                     labels: Mapping[str, str], evidence: Mapping[str, Any], decision: str,
                     note: str | None, fields: Mapping[str, str], now: dt.datetime,
                     policy_version: str) -> None:
    _check(labels, decision)
    conn.execute(insert(Adjudication).values(
        draft_id=draft.id, pmid=draft.pmid, round=draft.review_round, adjudicator=adjudicator,
        relevance=labels["relevance"], pem=labels["pem"], design=labels["design"],
        evidence=dict(evidence), decision=decision, note=note, fields=dict(fields),
        decided_at=now, policy_version=policy_version))


def add_outcome_event(conn: Connection, draft: Row[Any], *, actor: str, action: str,
                      detail: Mapping[str, Any], now: dt.datetime) -> None:
    """The round's outcome (agreed, adjudicated) in the audit trail, with every decision."""
    _event(conn, draft, actor=actor, action=action, detail=detail, now=now)


def rounds(conn: Connection) -> list[dict[str, Any]]:
    """Every round with two decisions: the pair, their labels, the adjudication if any,
    when the second decision was made; oldest first (for the agreement figures)."""
    rows = conn.execute(select(ReviewDecision.__table__)
                        .order_by(ReviewDecision.draft_id, ReviewDecision.round,
                                  ReviewDecision.id)).all()
    adj = {(r.draft_id, r.round): r for r in conn.execute(select(Adjudication.__table__))}
    grouped: dict[tuple[int, int], list[Row[Any]]] = {}
    for r in rows:
        grouped.setdefault((r.draft_id, r.round), []).append(r)
    out = []
    for key, pair in grouped.items():
        if len(pair) < 2:
            continue
        a, b = pair[0], pair[1]
        out.append({"draft_id": key[0], "pmid": a.pmid, "round": key[1], "first": a,
                    "second": b, "adjudication": adj.get(key), "at": b.decided_at})
    out.sort(key=lambda r: (r["at"], r["draft_id"]))
    return out
