"""Stored inputs and results under a policy: papers rebuilt from the stored raw XML (never
the ``records`` columns), stored results by content hash, and classifying what lacks one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from classifiers.paper import Paper
from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..errors import PolicyError, ScannerError
from ..pubmed.parse import ParsedRecord, parse_pubmed_xml
from ..store import policies as policy_store
from ..store import runs
from ..store.classifications import as_result, check_policy_unchanged, store_classifications
from ..store.db import Database
from ..store.models import Classification, Record, RecordVersion
from ..store.records import decompress
from .fulltext import with_stored_fulltext

log = logging.getLogger(__name__)


#: Records read, classified and written per transaction.
CHUNK = 256

ClassifierFactory = Callable[[], Any]


def check_policy_recorded(conn: Connection, policy: Policy) -> None:
    """Refuse a policy file that changed after results or its activation were stored."""
    check_policy_unchanged(conn, policy)
    row = policy_store.get(conn, policy.version) if _has_states(conn) else None
    if row is not None and row.sha256 != policy.sha256:
        raise PolicyError(
            f"policy {policy.version} changed after it was activated: recorded with sha256 "
            f"{row.sha256[:12]}..., the file now hashes to {policy.sha256[:12]}...; restore "
            "the file or give the changed policy a new version")


def _has_states(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table("policy_states")


def paper_from_raw(raw_xml: bytes) -> Paper:
    """The classifiers' view of one stored record version, parsed again from its XML."""
    body = raw_xml.lstrip()
    if body.startswith(b"<?xml"):
        body = body[body.index(b"?>") + 2:]
    # Stored as the bare <PubmedArticle> (or <PubmedBookArticle>) element.
    document = b"<PubmedArticleSet>" + body + b"</PubmedArticleSet>"
    items = [i for i in parse_pubmed_xml(document) if isinstance(i, ParsedRecord)]
    if len(items) != 1:
        raise ScannerError(f"stored raw XML holds {len(items)} records, expected one")
    return Paper.from_record(items[0])


def live_pmids(conn: Connection, after: str, limit: int,
               only: Sequence[str] | None = None) -> list[str]:
    stmt = (select(Record.pmid).where(Record.deleted_at.is_(None), Record.pmid > after)
            .order_by(Record.pmid).limit(limit))
    if only is not None:
        stmt = stmt.where(Record.pmid.in_(list(only)))
    return list(conn.execute(stmt).scalars())


def stored_inputs(conn: Connection, pmids: Sequence[str]) -> list[tuple[str, str, Paper]]:
    """(pmid, content hash, paper) of each record's current version, in PMID order."""
    newest = (select(RecordVersion.pmid, func.max(RecordVersion.version).label("version"))
              .join(Record, and_(Record.pmid == RecordVersion.pmid,
                                 Record.content_hash == RecordVersion.content_hash))
              .where(RecordVersion.pmid.in_(list(pmids)))
              .group_by(RecordVersion.pmid).subquery())
    rows = conn.execute(
        select(RecordVersion.pmid, RecordVersion.content_hash, RecordVersion.raw_xml_z)
        .join(newest, and_(newest.c.pmid == RecordVersion.pmid,
                           newest.c.version == RecordVersion.version))
        .order_by(RecordVersion.pmid)).all()
    found = {r.pmid for r in rows}
    missing = [p for p in pmids if p not in found]
    if missing:
        raise ScannerError(f"no stored raw XML for the current version of record(s) "
                           f"{', '.join(missing[:5])}")
    return [(r.pmid, r.content_hash, paper_from_raw(decompress(r.raw_xml_z))) for r in rows]


def stored_results(conn: Connection, policy: Policy,
                   keys: Sequence[tuple[str, str]]) -> dict[str, ClassificationResult]:
    """Stored results under ``policy`` for (pmid, content hash) pairs, by PMID."""
    if not keys:
        return {}
    wanted = dict(keys)
    rows = conn.execute(select(Classification.pmid, Classification.content_hash,
                               Classification.result)
                        .where(Classification.policy_version == policy.version,
                               Classification.pmid.in_(list(wanted))))
    return {r.pmid: as_result(r.result) for r in rows if wanted.get(r.pmid) == r.content_hash}


def once(factory: ClassifierFactory) -> ClassifierFactory:
    """The factory's classifier, built on the first call and reused after."""
    if getattr(factory, "_once", False):
        return factory
    built: list[Any] = []

    def get() -> Any:
        if not built:
            built.append(factory())
        return built[0]

    get._once = True  # type: ignore[attr-defined]
    return get


@dataclass
class Classified:
    pmid: str
    content_hash: str
    result: ClassificationResult
    stored: bool  # read from the store (True) or computed now (False)


def results_under(db: Database, policy: Policy, classifier: ClassifierFactory, *,
                  use_stored: bool = True, store: bool = False,
                  only: Sequence[str] | None = None, chunk: int = CHUNK) -> Iterator[Classified]:
    """Every live record's result under ``policy``, in PMID order.

    Stored results are used where present (``use_stored``); the rest are computed from the
    stored raw XML with ``classifier()`` (built on first need) and, with ``store``, saved.
    """
    classifier = once(classifier)
    after = ""
    while True:
        with db.read() as conn:
            pmids = live_pmids(conn, after, chunk, only)
            if not pmids:
                return
            inputs = stored_inputs(conn, pmids)
            have = stored_results(conn, policy, [(p, h) for p, h, _ in inputs])
        after = pmids[-1]
        todo = [(p, h, paper) for p, h, paper in inputs if not (use_stored and p in have)]
        computed: dict[str, ClassificationResult] = {}
        if todo:
            papers = [paper for _, _, paper in todo]
            results = with_stored_fulltext(db, policy, classifier(), papers,
                                           classifier().classify(papers))
            computed = {r["pmid"]: r for r in results}
            if store:
                with db.write() as conn:
                    again = stored_results(conn, policy, [(p, h) for p, h, _ in todo])
                    fresh = [computed[p] for p, _, _ in todo if p not in again]
                    store_classifications(conn, fresh, {p: h for p, h, _ in todo},
                                          runs.utcnow())
        for pmid, content_hash, _ in inputs:
            if pmid in computed:
                yield Classified(pmid, content_hash, computed[pmid], False)
            else:
                yield Classified(pmid, content_hash, have[pmid], True)
