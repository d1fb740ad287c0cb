"""The public pages' tables: visitors' contributions (private to curators) and the
curators' "replicated" links between entries (migration 0010)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    DateTime,
    Integer,
    Row,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..errors import NotFoundError, ReviewError
from .models import Base
from .runs import utcnow

CONTRIBUTION_KINDS = ("correction", "missing")
CONTRIBUTION_STATES = ("new", "done", "dismissed")


class Contribution(Base):
    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    address_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[str | None] = mapped_column(String(80))
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Replication(Base):
    __tablename__ = "replications"
    __table_args__ = (UniqueConstraint("pmid_a", "pmid_b", name="uq_replications_pair"),
                      CheckConstraint("pmid_a < pmid_b", name="ck_replications_order"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid_a: Mapped[str] = mapped_column(String(20))
    pmid_b: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# -- contributions -------------------------------------------------------------------------

def add_contribution(conn: Connection, *, pmid: str | None, kind: str, body: str,
                     contact: str | None, address_sha256: str,
                     now: dt.datetime | None = None) -> int:
    if kind not in CONTRIBUTION_KINDS:
        raise ReviewError(f"unknown contribution kind {kind!r}")
    return int(conn.execute(insert(Contribution).values(
        pmid=pmid, kind=kind, body=body, contact=contact, address_sha256=address_sha256,
        state="new", created_at=now or utcnow()).returning(Contribution.id)).scalar_one())


def recent_from(conn: Connection, address_sha256: str, since: dt.datetime) -> int:
    return int(conn.execute(select(func.count()).select_from(Contribution).where(
        Contribution.address_sha256 == address_sha256,
        Contribution.created_at >= since)).scalar_one())


def contributions(conn: Connection, state: str | None = "new",
                  limit: int = 200) -> list[Row[Any]]:
    stmt = select(Contribution.__table__).order_by(Contribution.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Contribution.state == state)
    return list(conn.execute(stmt).all())


def count_new(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(Contribution)
                            .where(Contribution.state == "new")).scalar_one())


def handle(conn: Connection, contribution_id: int, state: str, actor: str,
           now: dt.datetime | None = None) -> None:
    if state not in CONTRIBUTION_STATES[1:]:
        raise ReviewError(f"unknown contribution state {state!r}")
    done = conn.execute(update(Contribution).where(Contribution.id == contribution_id)
                        .values(state=state, handled_by=actor, handled_at=now or utcnow()))
    if done.rowcount != 1:
        raise NotFoundError(f"no contribution {contribution_id}")


# -- replicated links ----------------------------------------------------------------------

def _pair(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise ReviewError("an entry cannot replicate itself")
    return (a, b) if a < b else (b, a)


def link(conn: Connection, pmid: str, other: str, actor: str, note: str | None = None,
         now: dt.datetime | None = None) -> bool:
    """Link two entries as independent studies with the same finding; False if linked."""
    a, b = _pair(pmid, other)
    exists = conn.execute(select(Replication.id).where(Replication.pmid_a == a,
                                                       Replication.pmid_b == b)).first()
    if exists:
        return False
    conn.execute(insert(Replication).values(pmid_a=a, pmid_b=b, note=note, created_by=actor,
                                            created_at=now or utcnow()))
    return True


def unlink(conn: Connection, pmid: str, other: str) -> bool:
    a, b = _pair(pmid, other)
    return bool(conn.execute(delete(Replication).where(
        Replication.pmid_a == a, Replication.pmid_b == b)).rowcount)


def replications(conn: Connection, pmid: str | None = None) -> dict[str, list[str]]:
    """PMID -> the PMIDs linked to it (both directions), sorted."""
    stmt = select(Replication.pmid_a, Replication.pmid_b)
    if pmid is not None:
        stmt = stmt.where(or_(Replication.pmid_a == pmid, Replication.pmid_b == pmid))
    out: dict[str, list[str]] = {}
    for a, b in conn.execute(stmt).all():
        out.setdefault(a, []).append(b)
        out.setdefault(b, []).append(a)
    return {k: sorted(v) for k, v in out.items()}
