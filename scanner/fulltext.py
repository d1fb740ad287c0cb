"""Full-text escalation in scans: PMC JATS for papers the policy sends to their full text.

After a batch is classified from title and abstract, a paper whose PEM label is in the
policy's ``[fulltext] escalate_labels`` (``unclear``), with ME/CFS participants, is looked
up in PubMed Central by its PMCID (``efetch db=pmc`` through the scan's client: same rate
limiter, retries and body checks). The JATS is stored (``fulltexts``: pmid, pmcid, sha256,
zstd bytes, fetch time, source) and the paper reclassified with it; a paper without a
PMCID, or whose PMC record has no article body, keeps its label with the reason ("no
open-access full text in PMC"), and that outcome is stored too. A stored full text is
reused rather than fetched again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import zstandard
from sqlalchemy import Connection, Row, insert, select

from classifiers.document import FullText, from_jats
from classifiers.paper import Paper

from .errors import EutilsError
from .logs import kv
from .policy import Policy
from .pubmed.eutils import EutilsClient
from .store.db import Database
from .store.models import FullTextRow

log = logging.getLogger(__name__)

NO_PMCID = "no PMCID, so no open-access full text in PMC"
NO_OA = "no open-access full text in PMC"


def wants_fulltext(policy: Policy, result: dict[str, Any]) -> bool:
    spec = policy.fulltext
    return bool(spec is not None and spec.escalate and "pmc" in spec.sources
                and result["pem"]["label"] in spec.escalate_labels
                and result["relevance"]["label"] == "mecfs"
                and result["study"]["human_participants"] is not False)


def stored_fulltext(conn: Connection, pmid: str) -> Row[Any] | None:
    """The latest stored full-text outcome of ``pmid`` (text or "unavailable")."""
    return conn.execute(select(FullTextRow.__table__).where(FullTextRow.pmid == pmid)
                        .order_by(FullTextRow.fetched_at.desc(), FullTextRow.id.desc())
                        ).first()


def load_document(row: Row[Any]) -> FullText | None:
    if row.status != "ok" or row.content_z is None:
        return None
    return from_jats(zstandard.ZstdDecompressor().decompress(row.content_z))


def _store(conn: Connection, pmid: str, pmcid: str | None, raw: bytes | None, note: str | None,
           now: dt.datetime) -> None:
    conn.execute(insert(FullTextRow).values(
        pmid=pmid, pmcid=pmcid, source="pmc", status="ok" if raw else "unavailable",
        format="jats" if raw else None,
        sha256=hashlib.sha256(raw).hexdigest() if raw else None,
        content_z=zstandard.ZstdCompressor(level=3, write_content_size=True).compress(raw)
        if raw else None, note=note, fetched_at=now))


def escalate(db: Database, client: EutilsClient, policy: Policy, classifier: Any,
             papers: Sequence[Paper], pmcids: dict[str, str | None],
             results: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """``results`` with escalated papers reclassified from their PMC full text."""
    out = list(results)
    for i, (paper, result) in enumerate(zip(papers, results, strict=True)):
        if not wants_fulltext(policy, result):
            continue
        pmcid = pmcids.get(paper.pmid)
        with db.read() as conn:
            row = stored_fulltext(conn, paper.pmid)
        doc: FullText | None = None
        why = NO_PMCID if not pmcid else NO_OA
        if row is not None and row.status == "ok" and row.pmcid == pmcid:
            doc = load_document(row)
        elif pmcid:
            try:
                raw = client.efetch_pmc(pmcid)
            except EutilsError as exc:   # PMC down: keep the abstract's label, say why
                log.warning(kv("fulltext_fetch_failed", pmid=paper.pmid, pmcid=pmcid,
                               error=str(exc)))
                why = f"full text could not be fetched from PMC ({pmcid})"
                raw = None
                with db.write() as conn:   # stored, so a rerun gives the same reason
                    _store(conn, paper.pmid, pmcid, None, why, now)
            else:
                doc = from_jats(raw) if raw else None
                with db.write() as conn:
                    _store(conn, paper.pmid, pmcid, raw if doc is not None else None,
                           None if doc is not None else NO_OA, now)
        out[i] = classifier.classify([paper], [doc], missing={paper.pmid: why})[0]
        log.info(kv("fulltext_escalated", pmid=paper.pmid, pmcid=pmcid,
                    read=doc is not None, label=out[i]["pem"]["label"]))
    return out


def with_stored_fulltext(db: Database, policy: Policy, classifier: Any,
                         papers: Sequence[Paper], results: list[dict[str, Any]],
                         ) -> list[dict[str, Any]]:
    """``results`` with escalated papers reclassified from their *stored* full text.

    What reruns use: no request is made, so a rerun under a policy with ``[fulltext]``
    reads exactly the text the scan read (and gives the reason the scan gave when there
    was none). A paper with a curator's full text reads that instead, under any policy
    (``scanner/curator_fulltext.py``).
    """
    from .curator_fulltext import with_curator_texts
    from .store.models import Record

    out = list(results)
    for i, (paper, result) in enumerate(zip(papers, results, strict=True)):
        if not wants_fulltext(policy, result):
            continue
        with db.read() as conn:
            row = stored_fulltext(conn, paper.pmid)
            pmcid = conn.execute(select(Record.pmcid).where(Record.pmid == paper.pmid)
                                 ).scalar_one_or_none()
        doc = load_document(row) if row is not None else None
        why = NO_PMCID if not pmcid else (row.note if row is not None and row.note
                                          else NO_OA)
        out[i] = classifier.classify([paper], [doc], missing={paper.pmid: why})[0]
    return with_curator_texts(db, classifier, papers, out)
