"""Classification rows: one per record version and policy version, stamped and checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, and_, func, insert, select

from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..errors import PolicyError
from .models import Classification, Record, ScanRun


def check_policy_unchanged(conn: Connection, policy: Policy) -> None:
    """Refuse a policy whose file changed after results were stored under its version."""
    for table in (Classification, ScanRun):
        other = conn.execute(
            select(table.policy_sha256).where(table.policy_version == policy.version,
                                              table.policy_sha256 != policy.sha256)
            .limit(1)).scalar_one_or_none()
        if other is not None:
            raise PolicyError(
                f"policy {policy.version} changed after it was used: stored results were made "
                f"with sha256 {other[:12]}..., the file now hashes to {policy.sha256[:12]}...; "
                "restore the file or give the changed policy a new version")


def unclassified(conn: Connection, policy: Policy, limit: int) -> list[str]:
    """Live records whose current version has no classification under ``policy``."""
    c = Classification
    stmt = (select(Record.pmid)
            .outerjoin(c, and_(c.pmid == Record.pmid, c.content_hash == Record.content_hash,
                               c.policy_version == policy.version))
            .where(Record.deleted_at.is_(None), c.id.is_(None))
            .order_by(Record.pmid).limit(limit))
    return list(conn.execute(stmt).scalars())


def store_classifications(conn: Connection, results: Sequence[ClassificationResult],
                          content_hashes: dict[str, str], now: dt.datetime) -> int:
    rows = []
    for r in results:
        rows.append({
            "pmid": r["pmid"], "content_hash": content_hashes[r["pmid"]],
            "policy_id": r["policy"]["id"], "policy_version": r["policy"]["version"],
            "policy_sha256": r["policy"]["sha256"], "scanner_version": r["scanner_version"],
            "relevance_label": r["relevance"]["label"],
            "relevance_score": r["relevance"]["score"],
            "relevance_route": r["relevance"]["route"], "pem_label": r["pem"]["label"],
            "pem_confidence": r["pem"]["confidence"], "pem_route": r["pem"]["route"],
            "design": r["study"]["design"],
            "human_participants": r["study"]["human_participants"],
            "result": r, "created_at": now,
        })
    if rows:
        conn.execute(insert(Classification), rows)
    return len(rows)


def counts_by_policy(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(Classification.policy_version, func.count())
                        .group_by(Classification.policy_version))
    return {version: int(n) for version, n in rows}


def as_result(stored: Mapping[str, Any]) -> ClassificationResult:
    """A stored ``classifications.result`` as the typed result it was written from (the
    one place stored JSON is trusted to have the contract's shape: it was produced by
    ``PaperClassifier`` and every store test validates it against the schema)."""
    return cast(ClassificationResult, dict(stored))
