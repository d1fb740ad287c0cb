"""From classifications to the curators' queue: draft every paper routed as relevant.

Driven by the store, like classification: a paper whose current classification under the
policy has no draft, or a draft made from an older classification, is drafted (again).
Re-drafting never overwrites a curator's text; a decided entry returns to the queue only
when the paper was retracted or its labels changed, and keeps its published snapshot.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy import and_, or_, select

from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..logs import kv
from ..store import drafts as store
from ..store.db import Database
from ..store.models import Classification, Draft, Record
from ..store.runs import utcnow
from .content import DraftContent
from .generate import build_draft
from .wording import check_wording

log = logging.getLogger(__name__)


def definition_names(policy: Policy) -> dict[str, str]:
    return {d.id: d.name for d in policy.case_definitions}


def generate(record: Any, classification: ClassificationResult, policy: Policy,
             accessed: dt.date) -> tuple[DraftContent, list[dict[str, Any]]]:
    """The draft of one paper and its wording flags."""
    fields = record._asdict() if hasattr(record, "_asdict") else dict(record)
    content = build_draft(fields, classification, definition_names=definition_names(policy),
                          accessed=accessed, content_hash=record.content_hash)
    flags = check_wording(content.fields, content.sentences, classification, record=fields)
    return content, [asdict(f) for f in flags]


def _requeue_reason(draft: Any, record: Any, c: Any) -> str | None:
    if record.is_retracted and not draft.retracted:
        return "retracted upstream: check the retraction notice before publishing"
    if draft.state == "pending":
        return None
    changed = [name for name, old, new in (
        ("relevance", draft.relevance_label, c.relevance_label),
        ("PEM status", draft.pem_label, c.pem_label), ("design", draft.design, c.design))
        if old != new]
    if changed:
        return (f"labels changed ({', '.join(changed)}) after the record or policy changed; "
                "the published entry stays as approved until you decide")
    return None


def draft_pending(db: Database, policy: Policy, *, accessed: dt.date | None = None,
                  chunk: int = 200) -> int:
    """Create or refresh the drafts of every relevant paper; returns how many changed."""
    accessed = accessed or utcnow().date()
    c = Classification
    done = 0
    last_pmid = ""
    while True:
        with db.read() as conn:
            rows = conn.execute(
                select(c.__table__, Draft.id.label("draft_id"))
                .join(Record, and_(Record.pmid == c.pmid, Record.content_hash == c.content_hash))
                .outerjoin(Draft, Draft.pmid == c.pmid)
                .where(c.policy_version == policy.version, Record.deleted_at.is_(None),
                       c.relevance_route != "auto_exclude", c.pmid > last_pmid,
                       or_(Draft.id.is_(None), Draft.classification_id != c.id))
                .order_by(c.pmid).limit(chunk)).all()
            if not rows:
                return done
            records = {r.pmid: r for r in conn.execute(
                select(Record.__table__).where(Record.pmid.in_([r.pmid for r in rows])))}
        last_pmid = rows[-1].pmid
        now = utcnow()
        with db.write() as conn:
            for row in rows:
                record = records[row.pmid]
                content, flags = generate(record, row.result, policy, accessed)
                draft = store.find(conn, row.pmid)
                if draft is None:
                    store.create(conn, pmid=row.pmid, classification=row, record=record,
                                 fields=content.fields, generated=content.to_json(),
                                 flags=flags, now=now)
                elif draft.classification_id != row.id:
                    store.refresh(conn, draft, classification=row, record=record,
                                  fields=content.fields, generated=content.to_json(),
                                  flags=flags, requeue_reason=_requeue_reason(draft, record, row),
                                  now=now)
                done += 1
        log.info(kv("drafted", count=len(rows), total=done))
