"""Curators' full texts in the store (``curator_fulltexts``, migration 0008).

Kept like ``fulltexts`` (``scanner/fulltext.py``): one row per text supplied, the text zstd-
compressed with its sha256. Rows are only ever added; a paper's full text is its latest
row (the highest id), so an earlier copy stays on record when a curator supplies a better one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import zstandard
from sqlalchemy import Connection, Row, func, insert, select

from ..errors import StoreError
from .models import CuratorFullText

FORMAT = "plain"


def add(conn: Connection, pmid: str, *, text: str, text_sha256: str, kind: str,
        upload_sha256: str, upload_size: int, pages: int | None, filename: str | None,
        supplied_by: str, now: dt.datetime) -> int:
    """Store a supplied text; returns its row id."""
    blob = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(
        text.encode("utf-8"))
    return int(conn.execute(insert(CuratorFullText).values(
        pmid=pmid, kind=kind, format=FORMAT, sha256=text_sha256, content_z=blob,
        upload_sha256=upload_sha256, upload_size=upload_size, pages=pages,
        filename=filename, supplied_by=supplied_by, supplied_at=now)
        .returning(CuratorFullText.id)).scalar_one())


def latest(conn: Connection, pmid: str) -> Row[Any] | None:
    """The paper's current curator text (the latest supplied), or None."""
    return conn.execute(select(CuratorFullText.__table__)
                        .where(CuratorFullText.pmid == pmid)
                        .order_by(CuratorFullText.id.desc())).first()


def latest_for(conn: Connection, pmids: Sequence[str]) -> dict[str, Row[Any]]:
    """The current curator text of each of ``pmids`` that has one (one query)."""
    if not pmids:
        return {}
    newest = (select(func.max(CuratorFullText.id).label("id"))
              .where(CuratorFullText.pmid.in_(list(pmids)))
              .group_by(CuratorFullText.pmid))
    rows = conn.execute(select(CuratorFullText.__table__)
                        .where(CuratorFullText.id.in_(newest))).all()
    return {r.pmid: r for r in rows}


def text_of(row: Row[Any]) -> str:
    """The stored text, exactly as the reader read it; its sha256 is checked."""
    text = zstandard.ZstdDecompressor().decompress(row.content_z).decode("utf-8")
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != row.sha256:
        raise StoreError(f"curator full text {row.id} of PMID {row.pmid} does not match its "
                         "stored sha256; refusing to read it")
    return text
