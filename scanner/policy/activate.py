"""``scanner policy activate V``: make a policy version active, and mark stale approvals.

Activation records who and when (``policy_states``), retires the version it replaces,
classifies the approved entries' records under the new policy (stored: it is now the
active one) and puts back in the curators' queue every approved entry whose relevance,
PEM status, evidence or design the new policy would change, with the change in the
reason. ``drafts.requeue`` keeps the published snapshot: what a curator approved stays
published, unchanged, until a curator decides again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..store import drafts as draft_store
from ..store import policies as policy_store
from ..store.classifications import as_result
from ..store.db import Database
from ..store.models import Classification, Draft
from ..store.runs import utcnow
from .diff import describe, summary
from .stored import ClassifierFactory, check_policy_recorded, results_under

#: What makes an approved entry stale (a route change alone does not: it is not published).
STALE_KINDS = ("relevance", "pem", "evidence", "design")


@dataclass
class Activation:
    version: str
    previous: str | None
    approved: int = 0
    requeued: list[tuple[str, str]] = field(default_factory=list)  # (pmid, reason)

    def summary(self) -> str:
        return (f"policy {self.version} active (was {self.previous or 'none'}); "
                f"{self.approved} approved entries checked, {len(self.requeued)} re-queued "
                "as stale")


def stale_reason(policy: Policy, old: ClassificationResult,
                 new: ClassificationResult) -> str | None:
    a, b = summary(old), summary(new)
    kinds = [k for k in STALE_KINDS if a[k] != b[k]]
    if not kinds:
        return None
    return (f"policy {policy.version} would change {describe(kinds, a, b)}; the published "
            "entry stays as approved until you decide")


def activate_policy(db: Database, policy: Policy, classifier: ClassifierFactory, *, by: str,
                    previous: Policy | None, note: str | None = None,
                    now: dt.datetime | None = None) -> Activation:
    out = Activation(version=policy.version,
                     previous=previous.version if previous is not None else None)
    with db.read() as conn:
        check_policy_recorded(conn, policy)
        approved = {r.pmid: (r.classification_id, as_result(r.result)) for r in conn.execute(
            select(Draft.pmid, Draft.classification_id, Classification.result)
            .join(Classification, Classification.id == Draft.classification_id)
            .where(Draft.state == "approved").order_by(Draft.pmid))}
    out.approved = len(approved)
    new_results = {c.pmid: c.result for c in results_under(
        db, policy, classifier, store=True, only=sorted(approved))} if approved else {}
    now = now or utcnow()
    with db.write() as conn:
        policy_store.activate(conn, policy, by=by, now=now, previous=previous, note=note)
        for pmid, (classification_id, old) in approved.items():
            new = new_results.get(pmid)
            if new is None:
                continue  # deleted since
            draft = draft_store.find(conn, pmid)
            if (draft is None or draft.state != "approved"
                    or draft.classification_id != classification_id):
                continue  # decided or refreshed again meanwhile: a curator has it in hand
            reason = stale_reason(policy, old, new)
            if reason and draft_store.requeue(conn, pmid, reason, actor=by, now=now):
                out.requeued.append((pmid, reason))
    return out
