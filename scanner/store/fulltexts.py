"""Stored full texts (``fulltexts``, migration 0006): one row per fetch outcome, the JATS
zstd-compressed with its sha256, or "unavailable" with the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import zstandard
from sqlalchemy import Connection, Row, insert, select

from classifiers.document import FullText, from_jats

from .models import FullTextRow, Record


def stored_fulltext(conn: Connection, pmid: str) -> Row[Any] | None:
    """The latest stored full-text outcome of ``pmid`` (text or "unavailable")."""
    return conn.execute(select(FullTextRow.__table__).where(FullTextRow.pmid == pmid)
                        .order_by(FullTextRow.fetched_at.desc(), FullTextRow.id.desc())
                        ).first()


def load_document(row: Row[Any]) -> FullText | None:
    if row.status != "ok" or row.content_z is None:
        return None
    return from_jats(zstandard.ZstdDecompressor().decompress(row.content_z))


def store_fulltext(conn: Connection, pmid: str, pmcid: str | None, raw: bytes | None,
                   note: str | None, now: dt.datetime) -> None:
    """Store one fetch outcome: the JATS (``raw``) or, without it, "unavailable" and why."""
    conn.execute(insert(FullTextRow).values(
        pmid=pmid, pmcid=pmcid, source="pmc", status="ok" if raw else "unavailable",
        format="jats" if raw else None,
        sha256=hashlib.sha256(raw).hexdigest() if raw else None,
        content_z=zstandard.ZstdCompressor(level=3, write_content_size=True).compress(raw)
        if raw else None, note=note, fetched_at=now))


def record_pmcid(conn: Connection, pmid: str) -> str | None:
    """The PMCID the stored record carries, if any."""
    pmcid: str | None = conn.execute(select(Record.pmcid).where(Record.pmid == pmid)
                                     ).scalar_one_or_none()
    return pmcid
