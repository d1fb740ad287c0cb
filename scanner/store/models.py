"""Typed SQLAlchemy 2.0 tables. The migrations in ``migrations/versions`` create them."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {dict[str, Any]: JSONType, list[Any]: JSONType}


class Record(Base):
    """The current state of one PubMed record; earlier states live in ``record_versions``."""

    __tablename__ = "records"

    pmid: Mapped[str] = mapped_column(String(12), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    abstract_sections: Mapped[list[Any]]
    authors: Mapped[list[Any]]
    journal: Mapped[str | None] = mapped_column(Text)
    journal_iso: Mapped[str | None] = mapped_column(Text)
    pub_year: Mapped[int | None] = mapped_column(Integer, index=True)
    pub_date: Mapped[str | None] = mapped_column(String(40))
    create_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    entry_date: Mapped[dt.date | None] = mapped_column(Date)
    doi: Mapped[str | None] = mapped_column(Text, index=True)
    pmcid: Mapped[str | None] = mapped_column(String(20))
    mesh: Mapped[list[Any]]
    publication_types: Mapped[list[Any]]
    keywords: Mapped[list[Any]]
    comments_corrections: Mapped[list[Any]]
    databanks: Mapped[list[Any]]
    status: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(20))
    is_retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class RecordVersion(Base):
    """Every distinct content of a record ever fetched, raw XML zstd-compressed."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("pmid", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(ForeignKey("records.pmid"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    raw_xml_z: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))


class ScanRun(Base):
    """The scan-run ledger: what each run asked for, what it got, how it ended."""

    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), default="scan")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    scanner_version: Mapped[str] = mapped_column(String(40))
    policy_id: Mapped[str] = mapped_column(String(80))
    policy_version: Mapped[str] = mapped_column(String(40))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    window_start: Mapped[dt.date | None] = mapped_column(Date)
    window_end: Mapped[dt.date | None] = mapped_column(Date)
    counts: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


class Watermark(Base):
    """Last create-date day fully processed, per query (a new query starts afresh)."""

    __tablename__ = "watermarks"

    query_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    through_date: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))


class FetchBacklog(Base):
    """Records that esearch listed but efetch did not return; retried by later scans."""

    __tablename__ = "fetch_backlog"

    pmid: Mapped[str] = mapped_column(String(12), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_missing_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))


class Lease(Base):
    """A named lease (the scan lock; later the daemon lease), with heartbeat and expiry."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Classification(Base):
    """One record version classified under one policy version, stamped with what made it."""

    __tablename__ = "classifications"
    __table_args__ = (UniqueConstraint("pmid", "policy_version", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(ForeignKey("records.pmid"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str] = mapped_column(String(80))
    policy_version: Mapped[str] = mapped_column(String(40), index=True)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    scanner_version: Mapped[str] = mapped_column(String(40))
    relevance_label: Mapped[str] = mapped_column(String(20))
    relevance_score: Mapped[float] = mapped_column(Float)
    relevance_route: Mapped[str] = mapped_column(String(20), index=True)
    pem_label: Mapped[str] = mapped_column(String(20), index=True)
    pem_confidence: Mapped[float] = mapped_column(Float)
    pem_route: Mapped[str] = mapped_column(String(20))
    design: Mapped[str] = mapped_column(String(20))
    human_participants: Mapped[bool | None] = mapped_column(Boolean)
    result: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A curator or admin account of the review app; the password hashed with Argon2id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, the store its sha256."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Draft(Base):
    """One paper's evidence entry: generated, edited by curators, approved or rejected.

    ``version`` rises on every change (optimistic locking); the text lives in
    ``draft_bodies``.
    """

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_queue", "state", "priority", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(ForeignKey("records.pmid"), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    priority: Mapped[float] = mapped_column(Float)
    # The classification the draft was generated from, and copies of what the queue
    # filters and sorts on (so a 10,000-draft queue needs no join).
    classification_id: Mapped[int] = mapped_column(ForeignKey("classifications.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    pub_year: Mapped[int | None] = mapped_column(Integer)
    create_date: Mapped[dt.date | None] = mapped_column(Date)
    relevance_label: Mapped[str] = mapped_column(String(20))
    relevance_score: Mapped[float] = mapped_column(Float)
    relevance_route: Mapped[str] = mapped_column(String(20))
    pem_label: Mapped[str] = mapped_column(String(20))
    design: Mapped[str] = mapped_column(String(20))
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    requeue_reason: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(80))
    has_published: Mapped[bool] = mapped_column(Boolean, default=False)


class DraftBody(Base):
    """A draft's large parts, apart from ``drafts`` so that queue scans read narrow rows.

    ``published`` is the snapshot taken at approval, which later edits or policy changes
    never rewrite.
    """

    __tablename__ = "draft_bodies"

    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), primary_key=True)
    fields: Mapped[dict[str, Any]]
    generated: Mapped[dict[str, Any]]
    flags: Mapped[list[Any]]
    published: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class DraftEvent(Base):
    """The audit trail: one append-only row per change to a draft (triggers refuse edits)."""

    __tablename__ = "draft_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    pmid: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]]


class LabelCorrection(Base):
    """A curator's correction of a classifier label: a labelled example for training."""

    __tablename__ = "label_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(ForeignKey("records.pmid"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[dict[str, Any]]
    new_value: Mapped[dict[str, Any]]
    policy_version: Mapped[str] = mapped_column(String(40))
    curator: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DaemonState(Base):
    """What the daemon holding a lease is doing, for ``scanner status`` in another process.

    Written only by the lease holder; ``current`` is the job in hand (a holder that dies
    with one set has it recorded as ``crashed`` by the daemon that takes over).
    """

    __tablename__ = "daemon_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    schedule: Mapped[dict[str, Any]]
    current: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_run: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    next_runs: Mapped[dict[str, Any]]
    recent: Mapped[list[Any]]
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    total_failures: Mapped[int] = mapped_column(Integer)


class PolicyState(Base):
    """A policy version's place in its lifecycle: draft, active (one at most) or retired.

    Written by ``scanner policy activate``; a version with no row is a draft (a file in
    ``policies/`` not yet activated). ``sha256`` is the file's hash when it was recorded.
    """

    __tablename__ = "policy_states"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), index=True)
    activated_by: Mapped[str | None] = mapped_column(String(80))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FullTextRow(Base):
    """A paper's full text as fetched (PMC JATS, zstd), or the note that there was none.

    Written by the scan's full-text escalation (``scanner/fulltext.py``); evidence with
    source ``fulltext`` indexes the text the reader builds from ``content_z``.
    """

    __tablename__ = "fulltexts"
    __table_args__ = (Index("ix_fulltexts_pmid_fetched", "pmid", "fetched_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(String(20))
    pmcid: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))          # "pmc"
    status: Mapped[str] = mapped_column(String(20))          # "ok" | "unavailable"
    format: Mapped[str | None] = mapped_column(String(10))   # "jats"
    sha256: Mapped[str | None] = mapped_column(String(64))   # of the raw bytes
    content_z: Mapped[bytes | None] = mapped_column(LargeBinary)
    note: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CuratorFullText(Base):
    """A full text a curator supplied for a paper (an uploaded PDF or text, or pasted
    methods): the extracted text (UTF-8, zstd) with its sha256, who and when.

    Written by the review app (``scanner/review/upload.py``); the latest row of a paper is
    the full text every classification of it reads (``scanner/policy/curator_fulltext.py``), so
    reruns reproduce labels decided from it. Evidence with source ``fulltext`` indexes the
    decompressed text exactly.
    """

    __tablename__ = "curator_fulltexts"
    __table_args__ = (Index("ix_curator_fulltexts_pmid_supplied", "pmid", "supplied_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pmid: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))           # "pdf" | "text" | "pasted"
    format: Mapped[str] = mapped_column(String(10))         # "plain": what the reader reads
    sha256: Mapped[str] = mapped_column(String(64))         # of the stored text (UTF-8)
    content_z: Mapped[bytes] = mapped_column(LargeBinary)
    upload_sha256: Mapped[str] = mapped_column(String(64))  # of the bytes uploaded
    upload_size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(Text)
    supplied_by: Mapped[str] = mapped_column(String(80))
    supplied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
