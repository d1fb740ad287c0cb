"""Drafts in the store: create, edit, decide, re-queue, and the append-only audit trail.

Every change goes through one function here, in one write transaction, and adds one
``draft_events`` row. ``version`` is the optimistic lock: a change based on an older
version raises :class:`StaleDraftError` naming what changed since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, null, select, update

from ..errors import NotFoundError, ReviewError, StaleDraftError
from . import decisions
from .models import Draft, DraftBody, DraftEvent, LabelCorrection
from .runs import utcnow

STATES = ("pending", "approved", "rejected")
EDITABLE = ("summary", "relevance", "limitations", "pem", "citation", "bibtex")
SYSTEM = "scanner"


def priority(relevance_route: str, relevance_score: float, pem_route: str,
             requeued: bool = False) -> float:
    """How much a curator's decision changes: re-queued entries and uncertain routes first."""
    uncertainty = 1.0 - abs(2.0 * relevance_score - 1.0)
    return round((4.0 if requeued else 0.0) + (2.0 if relevance_route == "review" else 0.0)
                 + (1.0 if pem_route == "review" else 0.0) + uncertainty, 6)


@dataclass
class QueueFilter:
    state: str | None = "pending"
    pem_label: str | None = None
    relevance_label: str | None = None
    relevance_route: str | None = None
    design: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    search: str | None = None
    #: dual review: only drafts that still need this curator's decision
    reviewer: str | None = None
    #: dual review: only drafts whose two decisions disagree, for this adjudicator
    adjudicator: str | None = None
    page: int = 1
    per_page: int = 50


QUEUE_COLUMNS = (Draft.id, Draft.pmid, Draft.state, Draft.version, Draft.priority, Draft.title,
                 Draft.pub_year, Draft.create_date, Draft.relevance_label, Draft.relevance_score,
                 Draft.relevance_route, Draft.pem_label, Draft.design, Draft.retracted,
                 Draft.requeue_reason, Draft.updated_at, Draft.updated_by)


def queue(conn: Connection, f: QueueFilter) -> tuple[list[Any], int]:
    """One page of the queue and the total matching; highest priority first."""
    conds = []
    if f.state:
        conds.append(Draft.state == f.state)
    for column, value in ((Draft.pem_label, f.pem_label),
                          (Draft.relevance_label, f.relevance_label),
                          (Draft.relevance_route, f.relevance_route), (Draft.design, f.design)):
        if value:
            conds.append(column == value)
    if f.year_from is not None:
        conds.append(Draft.pub_year >= f.year_from)
    if f.year_to is not None:
        conds.append(Draft.pub_year <= f.year_to)
    if f.search:
        term = f.search.strip()
        if term.isdigit():
            conds.append(Draft.pmid == term)
        else:
            escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(func.lower(Draft.title).like(f"%{escaped}%", escape="\\"))
    conds.extend(decisions.queue_conditions(f.reviewer, f.adjudicator))
    where = and_(*conds) if conds else and_(True)
    total = conn.execute(select(func.count()).select_from(Draft).where(where)).scalar_one()
    page = max(1, f.page)
    order: list[Any] = [Draft.priority.desc(), Draft.id.desc()]  # the queue index's order
    if not f.state:     # every state shown: the drafts waiting for review still first
        order.insert(0, (Draft.state != "pending").asc())
    rows = conn.execute(
        select(*QUEUE_COLUMNS).where(where)
        .order_by(*order)
        .limit(f.per_page).offset((page - 1) * f.per_page)).all()
    return list(rows), int(total)


def _full() -> Any:
    """A draft's row with its body's columns."""
    return (select(Draft.__table__, DraftBody.fields, DraftBody.generated, DraftBody.flags,
                   DraftBody.published)
            .join(DraftBody, DraftBody.draft_id == Draft.id))


def get(conn: Connection, pmid: str) -> Row[Any]:
    row = find(conn, pmid)
    if row is None:
        raise NotFoundError(f"no draft for PMID {pmid}")
    return row


def find(conn: Connection, pmid: str) -> Row[Any] | None:
    return conn.execute(_full().where(Draft.pmid == pmid)).first()


def _event(conn: Connection, draft: Row[Any] | None, *, draft_id: int, pmid: str, actor: str,
           action: str, to_version: int, to_state: str, detail: Mapping[str, Any],
           now: dt.datetime) -> None:
    conn.execute(insert(DraftEvent).values(
        draft_id=draft_id, pmid=pmid, at=now, actor=actor, action=action,
        from_version=None if draft is None else draft.version, to_version=to_version,
        from_state=None if draft is None else draft.state, to_state=to_state,
        detail=dict(detail)))


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"old": old.get(k), "new": new.get(k)}
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def check_version(conn: Connection, draft: Row[Any], expected: int) -> None:
    if draft.version == expected:
        return
    events = conn.execute(
        select(DraftEvent.actor, DraftEvent.action, DraftEvent.at, DraftEvent.detail,
               DraftEvent.to_version)
        .where(DraftEvent.draft_id == draft.id, DraftEvent.to_version > expected)
        .order_by(DraftEvent.id)).all()
    changes: dict[str, dict[str, Any]] = {}
    for e in events:
        for name, change in (e.detail.get("changes") or {}).items():
            changes.setdefault(name, {"old": change.get("old")})["new"] = change.get("new")
    who = ", ".join(sorted({f"{e.actor} ({e.action})" for e in events})) or "someone"
    raise StaleDraftError(
        f"this draft changed since you opened it (you had version {expected}, it is now "
        f"version {draft.version}, changed by {who}); your changes were not saved",
        current_version=draft.version, changes=changes)


BODY = ("fields", "generated", "flags", "published")


def _bump(conn: Connection, draft: Row[Any], values: Mapping[str, Any]) -> None:
    """Update guarded by the version read, so a concurrent writer cannot be overwritten."""
    head = {k: v for k, v in values.items() if k not in BODY}
    body = {k: v for k, v in values.items() if k in BODY}
    result = conn.execute(update(Draft).where(Draft.id == draft.id,
                                              Draft.version == draft.version)
                          .values(version=draft.version + 1, **head))
    if result.rowcount != 1:
        raise StaleDraftError("this draft changed while your change was being saved",
                              current_version=draft.version + 1, changes={})
    if body:
        conn.execute(update(DraftBody).where(DraftBody.draft_id == draft.id).values(**body))


def create(conn: Connection, *, pmid: str, classification: Row[Any], record: Row[Any],
           fields: Mapping[str, str], generated: Mapping[str, Any], flags: Sequence[Any],
           now: dt.datetime | None = None, actor: str = SYSTEM) -> None:
    now = now or utcnow()
    c = classification
    values = {
        "pmid": pmid, "state": "pending", "version": 1,
        "priority": priority(c.relevance_route, c.relevance_score, c.pem_route),
        "classification_id": c.id, "content_hash": c.content_hash,
        "policy_version": c.policy_version, "title": record.title, "pub_year": record.pub_year,
        "create_date": record.create_date, "relevance_label": c.relevance_label,
        "relevance_score": c.relevance_score, "relevance_route": c.relevance_route,
        "pem_label": c.pem_label, "design": c.design, "retracted": bool(record.is_retracted),
        "created_at": now, "updated_at": now, "updated_by": actor, "has_published": False,
    }
    draft_id = conn.execute(insert(Draft).values(**values).returning(Draft.id)).scalar_one()
    conn.execute(insert(DraftBody).values(draft_id=draft_id, fields=dict(fields),
                                          generated=dict(generated), flags=list(flags)))
    _event(conn, None, draft_id=draft_id, pmid=pmid, actor=actor, now=now, action="created",
           to_version=1, to_state="pending",
           detail={"classification_id": c.id, "policy_version": c.policy_version,
                   "content_hash": c.content_hash})


def refresh(conn: Connection, draft: Row[Any], *, classification: Row[Any], record: Row[Any],
            fields: Mapping[str, str], generated: Mapping[str, Any], flags: Sequence[Any],
            requeue_reason: str | None, now: dt.datetime | None = None,
            actor: str = SYSTEM) -> None:
    """A new classification of the paper (changed record or policy): update the draft.

    Generated text replaces the fields only while no curator has touched them; a decided
    entry goes back to the queue only with a reason (retraction, changed record), and its
    published snapshot stays as approved until a curator decides again.
    """
    now = now or utcnow()
    c = classification
    untouched = draft.updated_by == SYSTEM and draft.state == "pending"
    new_fields = dict(fields) if untouched else dict(draft.fields)
    state = "pending" if requeue_reason else draft.state
    values: dict[str, Any] = {
        "fields": new_fields, "generated": dict(generated), "flags": list(flags),
        "classification_id": c.id, "content_hash": c.content_hash,
        "policy_version": c.policy_version, "title": record.title, "pub_year": record.pub_year,
        "create_date": record.create_date, "relevance_label": c.relevance_label,
        "relevance_score": c.relevance_score, "relevance_route": c.relevance_route,
        "pem_label": c.pem_label, "design": c.design, "retracted": bool(record.is_retracted),
        "state": state, "requeue_reason": requeue_reason or draft.requeue_reason,
        "priority": priority(c.relevance_route, c.relevance_score, c.pem_route,
                             requeued=bool(requeue_reason or draft.requeue_reason)),
        "updated_at": now,
    }
    _bump(conn, draft, values)
    _event(conn, draft, draft_id=draft.id, pmid=draft.pmid, actor=actor, now=now,
           action="requeued" if requeue_reason else "regenerated", to_version=draft.version + 1,
           to_state=state,
           detail={"reason": requeue_reason, "classification_id": c.id,
                   "policy_version": c.policy_version, "content_hash": c.content_hash,
                   "changes": _changes(draft.fields, new_fields)})


def requeue(conn: Connection, pmid: str, reason: str, *, actor: str = SYSTEM,
            now: dt.datetime | None = None) -> bool:
    """Put a draft (pending or decided) back at the top of the queue, saying why.

    Returns False when the paper has no draft. The published snapshot is kept.
    """
    draft = find(conn, pmid)
    if draft is None:
        return False
    now = now or utcnow()
    _bump(conn, draft, {"state": "pending", "requeue_reason": reason, "updated_at": now,
                        "priority": priority(draft.relevance_route, draft.relevance_score,
                                             "auto", requeued=True)})
    _event(conn, draft, draft_id=draft.id, pmid=pmid, actor=actor, now=now, action="requeued",
           to_version=draft.version + 1, to_state="pending", detail={"reason": reason})
    return True


def save(conn: Connection, pmid: str, *, expected_version: int, fields: Mapping[str, str],
         flags: Sequence[Any], actor: str, now: dt.datetime | None = None) -> int:
    """Store a curator's edit of the draft fields; returns the new version."""
    draft = get(conn, pmid)
    check_version(conn, draft, expected_version)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ReviewError(f"not an editable field: {', '.join(sorted(unknown))}")
    new_fields = {**draft.fields, **{k: clean_text(v) for k, v in fields.items()}}
    changes = _changes(draft.fields, new_fields)
    if not changes:
        return int(draft.version)
    now = now or utcnow()
    _bump(conn, draft, {"fields": new_fields, "flags": list(flags), "updated_at": now,
                        "updated_by": actor})
    _event(conn, draft, draft_id=draft.id, pmid=pmid, actor=actor, now=now, action="edited",
           to_version=draft.version + 1, to_state=draft.state, detail={"changes": changes})
    return int(draft.version) + 1


def decide(conn: Connection, pmid: str, *, decision: str, expected_version: int, actor: str,
           reason: str | None = None, snapshot: Mapping[str, Any] | None = None,
           now: dt.datetime | None = None) -> int:
    """Approve (publishing ``snapshot``) or reject (withdrawing any published snapshot)."""
    if decision not in ("approved", "rejected"):
        raise ReviewError(f"unknown decision {decision!r}")
    draft = get(conn, pmid)
    check_version(conn, draft, expected_version)
    if decision == "rejected" and not (reason or "").strip():
        raise ReviewError("a rejection needs a reason")
    now = now or utcnow()
    values: dict[str, Any] = {"state": decision, "decided_by": actor, "decided_at": now,
                              "updated_at": now, "updated_by": actor, "requeue_reason": None,
                              "reject_reason": (reason or "").strip() or None,
                              "priority": priority(draft.relevance_route,
                                                   draft.relevance_score, "auto")}
    if decision == "approved":
        if snapshot is None:
            raise ReviewError("an approval needs the snapshot it publishes")
        values["published"] = dict(snapshot)
    else:
        values["published"] = null()    # SQL NULL, not a JSON null
    values["has_published"] = decision == "approved"
    values["review_round"] = draft.review_round + 1     # dual-review decisions so far close
    _bump(conn, draft, values)
    _event(conn, draft, draft_id=draft.id, pmid=pmid, actor=actor, now=now, action=decision,
           to_version=draft.version + 1,
           to_state=decision,
           detail={"reason": values["reject_reason"], "withdrawn": decision == "rejected"
                   and draft.published is not None})
    return int(draft.version) + 1


def correct_label(conn: Connection, pmid: str, *, label: str, old: Any, new: Any, actor: str,
                  note: str | None = None, now: dt.datetime | None = None) -> None:
    """Store a curator's correction of a classifier label as a training example."""
    draft = get(conn, pmid)
    now = now or utcnow()
    conn.execute(insert(LabelCorrection).values(
        pmid=pmid, content_hash=draft.content_hash, field=label, old_value={"value": old},
        new_value={"value": new}, policy_version=draft.policy_version, curator=actor,
        note=note, created_at=now))
    _event(conn, draft, draft_id=draft.id, pmid=pmid, actor=actor, now=now, action="corrected",
           to_version=draft.version, to_state=draft.state,
           detail={"label": label, "changes": {label: {"old": old, "new": new}}, "note": note})


def corrections(conn: Connection, pmid: str | None = None) -> list[Row[Any]]:
    stmt = select(LabelCorrection.__table__).order_by(LabelCorrection.id)
    if pmid is not None:
        stmt = stmt.where(LabelCorrection.pmid == pmid)
    return list(conn.execute(stmt).all())


def events(conn: Connection, pmid: str | None = None, *, limit: int = 200,
           offset: int = 0) -> list[Row[Any]]:
    stmt = select(DraftEvent.__table__).order_by(DraftEvent.id.desc()).limit(limit).offset(offset)
    if pmid is not None:
        stmt = stmt.where(DraftEvent.pmid == pmid)
    return list(conn.execute(stmt).all())


def counts_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(Draft.state, func.count()).group_by(Draft.state)).all()
    return {state: int(n) for state, n in rows}


def published(conn: Connection) -> list[Row[Any]]:
    """Entries with a published (approved) snapshot, by PMID."""
    return list(conn.execute(select(Draft.pmid, DraftBody.published, Draft.decided_by,
                                    Draft.decided_at, Draft.state, Draft.version)
                             .join(DraftBody, DraftBody.draft_id == Draft.id)
                             .where(Draft.has_published.is_(True))
                             .order_by(Draft.pmid)).all())


def clean_text(text: str) -> str:
    """Normalise line endings from browsers (CRLF) so a resave is not a change."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def reread(conn: Connection, draft: Row[Any], *, classification: Row[Any],
           fields: Mapping[str, str], generated: Mapping[str, Any], flags: Sequence[Any],
           requeue_reason: str | None, actor: str, detail: Mapping[str, Any],
           now: dt.datetime | None = None) -> int:
    """The paper was read again from a full text a curator supplied: the draft takes the
    new labels and generated text. ``fields`` are the caller's merge (a field the curator
    edited keeps their text); a decided entry goes back to the queue only with a reason.
    One ``fulltext`` event; returns the new version."""
    now = now or utcnow()
    c = classification
    state = "pending" if requeue_reason else draft.state
    new_fields = {**draft.fields, **{k: v for k, v in fields.items() if k in EDITABLE}}
    _bump(conn, draft, {
        "fields": new_fields, "generated": dict(generated), "flags": list(flags),
        "relevance_label": c.relevance_label, "relevance_score": c.relevance_score,
        "relevance_route": c.relevance_route, "pem_label": c.pem_label, "design": c.design,
        "state": state, "requeue_reason": requeue_reason or draft.requeue_reason,
        "priority": priority(c.relevance_route, c.relevance_score, c.pem_route,
                             requeued=bool(requeue_reason or draft.requeue_reason)),
        "updated_at": now, "updated_by": actor})
    _event(conn, draft, draft_id=draft.id, pmid=draft.pmid, actor=actor, now=now,
           action="fulltext", to_version=draft.version + 1, to_state=state,
           detail={**detail, "reason": requeue_reason,
                   "changes": _changes(draft.fields, new_fields)})
    return int(draft.version) + 1
