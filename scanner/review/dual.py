"""Dual review: two curators decide each draft blind, an adjudicator settles disagreements.

Active when the policy the app runs under has ``[review] mode = "dual"``. Each curator
records labels (relevance, PEM status with the evidence they mark, design), approve or
reject, a note and their own text of the entry: a row of their own
(``review_decisions``), never a change to the shared draft, so nothing of it shows to
the other curator. When the second decision agrees with the first (same decision and
labels, and the same text or only one of them edited) the entry is decided with both
names; otherwise it waits for an adjudicator (role ``adjudicator`` or ``admin``, not one
of the two), who sees both side by side. Who sees what (:meth:`DualReview.view`):

- a decision of the open round: its author only, until both have decided; then both
  curators and anyone who may adjudicate (not a third curator);
- a closed round (the draft decided since): everyone signed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..drafts.badge import TITLES, explanation
from ..errors import PermissionDeniedError, ReviewError
from ..store import decisions as dstore
from ..store import drafts as store
from ..store.models import Record
from ..store.runs import utcnow
from ..store.users import ADJUDICATORS
from .service import LABELS, Review, published_snapshot

#: PEM labels that claim something about the participants: they need evidence
CLAIMS = ("required", "not_required", "mixed")


@dataclass(frozen=True)
class Verdict:
    """What a curator or adjudicator submits."""

    relevance: str
    pem: str
    design: str
    decision: str                       # approve | reject
    evidence: tuple[str, ...] = ()      # case-definition ids whose evidence they accept
    quote: str = ""                     # evidence they mark themselves (text of the paper)
    note: str = ""
    fields: Mapping[str, str] | None = None

    def labels(self) -> dict[str, str]:
        return {"relevance": self.relevance, "pem": self.pem, "design": self.design}

    def check(self) -> None:
        for key, value in self.labels().items():
            if value not in LABELS[key]:
                raise ReviewError(f"{value!r} is not a {key} label "
                                  f"(one of {', '.join(LABELS[key])})")
        if self.decision not in dstore.DECISIONS:
            raise ReviewError(f"decision must be approve or reject, not {self.decision!r}")
        if self.decision == "reject" and not self.note.strip():
            raise ReviewError("give a reason for the rejection (note)")
        if self.pem in CLAIMS and not self.evidence and not self.quote.strip():
            raise ReviewError(f"mark the evidence for PEM {self.pem}: accept a case "
                              "definition's span or quote the paper (no evidence, no claim)")


def _decision_json(d: Any) -> dict[str, Any]:
    who = getattr(d, "curator", None) or getattr(d, "adjudicator", None)
    return {"by": who, "round": d.round, "relevance": d.relevance, "pem": d.pem,
            "design": d.design, "evidence": d.evidence, "decision": d.decision,
            "note": d.note, "fields": d.fields, "decided_at": d.decided_at.isoformat()}


class DualReview:
    """The dual-review operations, over the app's :class:`Review`."""

    def __init__(self, review: Review) -> None:
        self.review = review

    @property
    def mode(self) -> str:
        return self.review.policy.review.mode

    @property
    def dual(self) -> bool:
        return self.mode == "dual"

    # -- reading ---------------------------------------------------------------------
    def view(self, pmid: str, username: str, role: str) -> dict[str, Any]:
        """What this user may see of the draft's review, and what they may do."""
        with self.review.db.read() as conn:
            draft = store.get(conn, pmid)
            rows = dstore.decisions(conn, draft.id)
            adjudicated = dstore.adjudications(conn, draft.id)
        return self._view(draft, rows, adjudicated, username, role)

    def _view(self, draft: Any, rows: list[Any], adjudicated: dict[int, Any], username: str,
              role: str) -> dict[str, Any]:
        current = [d for d in rows if d.round == draft.review_round]
        pending = draft.state == "pending"
        curators = [d.curator for d in current]
        mine = next((d for d in current if d.curator == username), None)
        may_adjudicate = role in ADJUDICATORS and username not in curators
        both = len(current) >= 2
        if both and (mine is not None or may_adjudicate):
            visible = current
        else:
            visible = [mine] if mine is not None else []
        can_decide = self.dual and pending and mine is None and len(current) < 2
        can_adjudicate = (pending and both and may_adjudicate
                          and draft.review_round not in adjudicated)
        if not pending or not current:
            status = "" if not self.dual or not pending else (
                "Dual review: two curators decide this draft independently.")
        elif mine is not None and not both:
            status = "You decided. Waiting for a second curator (you will not see their " \
                     "decision before they decide)."
        elif both:
            status = "Both curators decided and disagree: waiting for an adjudicator."
        else:
            status = "Dual review: one curator has decided; yours is the second decision."
        closed: dict[int, dict[str, Any]] = {}
        for d in rows:
            if d.round < draft.review_round:
                closed.setdefault(d.round, {"decisions": [], "adjudication": None})
                closed[d.round]["decisions"].append(d)
        for rnd, a in adjudicated.items():
            if rnd in closed:
                closed[rnd]["adjudication"] = a
        return {"mode": self.mode, "round": draft.review_round, "status": status,
                "can_decide": can_decide, "can_adjudicate": can_adjudicate,
                "mine": mine, "decisions": visible, "decided_count": len(current),
                "closed": [{"round": r, **v} for r, v in sorted(closed.items())]}

    def view_json(self, pmid: str, username: str, role: str) -> dict[str, Any]:
        v = self.view(pmid, username, role)
        return {"mode": v["mode"], "round": v["round"], "status": v["status"],
                "can_decide": v["can_decide"], "can_adjudicate": v["can_adjudicate"],
                "decisions_in_round": v["decided_count"],
                "visible_decisions": [_decision_json(d) for d in v["decisions"]],
                "closed_rounds": [
                    {"round": c["round"],
                     "decisions": [_decision_json(d) for d in c["decisions"]],
                     "adjudication": _decision_json(c["adjudication"])
                     if c["adjudication"] is not None else None} for c in v["closed"]]}

    # -- deciding ---------------------------------------------------------------------
    def _fields(self, draft: Any, verdict: Verdict) -> dict[str, str]:
        given = {k: store.clean_text(str(v)) for k, v in (verdict.fields or {}).items()}
        unknown = set(given) - set(store.EDITABLE)
        if unknown:
            raise ReviewError(f"not an editable field: {', '.join(sorted(unknown))}")
        return {**draft.fields, **given}

    def _evidence(self, verdict: Verdict) -> dict[str, Any]:
        known = {d.id for d in self.review.policy.case_definitions}
        unknown = [e for e in verdict.evidence if e not in known]
        if unknown:
            raise ReviewError(f"unknown case definition(s): {', '.join(unknown)}")
        return {"definitions": sorted(set(verdict.evidence)),
                "quote": verdict.quote.strip() or None}

    def decide(self, pmid: str, version: int, username: str, role: str,
               verdict: Verdict) -> str:
        """Record one curator's decision; returns the outcome: ``waiting`` (first
        decision), ``agreed`` (decided with both names) or ``disagreed`` (to adjudication)."""
        if not self.dual:
            raise ReviewError(f"policy {self.review.policy.version} uses single review: "
                              "approve or reject the draft")
        verdict.check()
        now = utcnow()
        with self.review.db.write() as conn:
            dstore.lock(conn, pmid)
            draft = store.get(conn, pmid)
            store.check_version(conn, draft, version)
            if draft.state != "pending":
                raise ReviewError(f"this draft is {draft.state}, not waiting for review")
            dstore.add_decision(
                conn, draft, curator=username, labels=verdict.labels(),
                evidence=self._evidence(verdict), decision=verdict.decision,
                note=verdict.note.strip() or None, fields=self._fields(draft, verdict), now=now,
                policy_version=self.review.policy.version)
            current = dstore.decisions(conn, draft.id, draft.review_round)
            if len(current) < 2:
                return "waiting"
            a, b = current
            text = _agreed_text(draft.fields, a.fields, b.fields)
            if (a.decision, a.relevance, a.pem, a.design) != (
                    b.decision, b.relevance, b.pem, b.design) or text is None:
                return "disagreed"
            final = {"relevance": a.relevance, "pem": a.pem, "design": a.design,
                     "decision": a.decision, "fields": text,
                     "note": "; ".join(n for n in (a.note, b.note) if n) or None,
                     "evidence": _union(a.evidence, b.evidence)}
            self._close(conn, draft, final, current, adjudicator=None, now=now)
            return "agreed"

    def adjudicate(self, pmid: str, version: int, username: str, role: str,
                   verdict: Verdict) -> None:
        """The adjudicator's decision on a disagreement; decides the draft."""
        verdict.check()
        if role not in ADJUDICATORS:
            raise PermissionDeniedError("adjudicating needs an adjudicator or admin account")
        now = utcnow()
        with self.review.db.write() as conn:
            dstore.lock(conn, pmid)
            draft = store.get(conn, pmid)
            store.check_version(conn, draft, version)
            current = dstore.decisions(conn, draft.id, draft.review_round)
            if draft.state != "pending" or len(current) < 2:
                raise ReviewError("this draft has no disagreement waiting for adjudication")
            if username in {d.curator for d in current}:
                raise PermissionDeniedError("you decided this draft as a curator; another "
                                            "adjudicator must settle it")
            if draft.review_round in dstore.adjudications(conn, draft.id):
                raise ReviewError("this disagreement is already adjudicated")
            fields = self._fields(draft, verdict)
            evidence = self._evidence(verdict)
            dstore.add_adjudication(
                conn, draft, adjudicator=username, labels=verdict.labels(), evidence=evidence,
                decision=verdict.decision, note=verdict.note.strip() or None, fields=fields,
                now=now, policy_version=self.review.policy.version)
            final = {**verdict.labels(), "decision": verdict.decision, "fields": fields,
                     "note": verdict.note.strip() or None,
                     "evidence": {"definitions": evidence["definitions"],
                                  "quotes": [evidence["quote"]] if evidence["quote"] else []}}
            self._close(conn, draft, final, current, adjudicator=username, now=now)

    def _close(self, conn: Any, draft: Any, final: dict[str, Any], pair: list[Any], *,
               adjudicator: str | None, now: Any) -> None:
        """Decide the draft: its text, an outcome event naming everyone, approve/reject."""
        a, b = pair
        names = f"{a.curator} & {b.curator}"
        actor = adjudicator or b.curator
        decided_by = (f"{adjudicator} (adjudicating {names})" if adjudicator else names)[:80]
        version = int(draft.version)
        changed = {k: v for k, v in final["fields"].items() if draft.fields.get(k) != v}
        if changed:
            version = self.review.save_fields(conn, draft.pmid, version, changed, actor)
        review = {"mode": "dual", "round": draft.review_round,
                  "curators": [a.curator, b.curator], "adjudicator": adjudicator,
                  "decisions": {d.curator: {"decision": d.decision, "relevance": d.relevance,
                                            "pem": d.pem, "design": d.design,
                                            "evidence": d.evidence} for d in pair},
                  "final": {k: final[k] for k in ("decision", "relevance", "pem", "design",
                                                  "evidence")}}
        dstore.add_outcome_event(conn, store.get(conn, draft.pmid), actor=actor,
                                 action="adjudicated" if adjudicator else "agreed",
                                 detail=review, now=now)
        if final["decision"] == "approve":
            current = store.get(conn, draft.pmid)
            record = conn.execute(select(Record.__table__)
                                  .where(Record.pmid == draft.pmid)).one()
            snapshot = published_snapshot(current, record, decided_by, now)
            snapshot["labels"] = {**snapshot["labels"], "relevance": final["relevance"],
                                  "pem": final["pem"], "design": final["design"],
                                  "classifier": {"relevance": current.relevance_label,
                                                 "pem": current.pem_label,
                                                 "design": current.design}}
            snapshot["badge"] = _badge(snapshot.get("badge") or {}, final)
            snapshot["review"] = review
            store.decide(conn, draft.pmid, decision="approved", expected_version=version,
                         actor=decided_by, snapshot=snapshot, now=now)
        else:
            store.decide(conn, draft.pmid, decision="rejected", expected_version=version,
                         actor=decided_by, reason=final["note"] or "rejected in dual review",
                         now=now)


def _agreed_text(original: Mapping[str, Any], a: Mapping[str, Any],
                 b: Mapping[str, Any]) -> dict[str, Any] | None:
    """The text both curators stand by: the same, or only one of them edited; else None."""
    if dict(a) == dict(b) or dict(b) == dict(original):
        return dict(a)
    if dict(a) == dict(original):
        return dict(b)
    return None



def _union(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence two agreeing curators marked: every span either accepted, both quotes."""
    return {"definitions": sorted(set(a.get("definitions") or ()) | set(b.get("definitions")
                                                                         or ())),
            "quotes": [q for q in (a.get("quote"), b.get("quote")) if q]}


def _badge(generated: Mapping[str, Any], final: Mapping[str, Any]) -> dict[str, Any]:
    """The published badge: the decided PEM label, with the evidence the review accepted
    (the classifier's spans of the accepted definitions, and the curators' quotes)."""
    label = str(final["pem"])
    accepted = set(final["evidence"]["definitions"])
    return {"label": label, "title": TITLES.get(label, label),
            "explanation": explanation(label),
            "evidence": [e for e in generated.get("evidence") or ()
                         if e.get("definition") in accepted],
            "quotes": list(final["evidence"]["quotes"])}
