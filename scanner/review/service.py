"""What curators can do, shared by the HTML pages and the JSON API.

Every operation is one write transaction in the drafts store; this module adds what the
store does not know: wording flags recomputed on the edited text, the snapshot an
approval publishes, the evidence highlighted in the source text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from classifiers.policy import Policy, load_policy

from .. import __version__
from ..config import Settings
from ..drafts.content import DraftContent, Sentence
from ..drafts.wording import check_wording
from ..errors import NotFoundError, PolicyError, ReviewError
from ..publish.export import export_entries
from ..store import curator_texts
from ..store import drafts as store
from ..store.db import Database
from ..store.fulltexts import load_document, stored_fulltext
from ..store.models import Classification, Record
from ..store.runs import utcnow

LABELS = {
    "relevance": ("mecfs", "adjacent", "not_relevant"),
    "pem": ("required", "not_required", "mixed", "unclear", "not_applicable"),
    "design": ("rct", "trial_other", "observational", "case_report", "qualitative", "in_vitro",
               "animal", "review", "guideline", "commentary", "other"),
}


class Review:
    """The review operations over one database, under the configured policies."""

    def __init__(self, settings: Settings, db: Database, policy: Policy) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        #: the policy a stored result was classified under (None if its file is gone)
        self.policy_for = lru_cache(maxsize=16)(self._load_policy)

    def _load_policy(self, version: str) -> Policy | None:
        if version == self.policy.version:
            return self.policy
        try:
            return load_policy(self.settings.policy_dir, version)
        except PolicyError:
            return None

    # -- reading ---------------------------------------------------------------------
    def queue(self, f: store.QueueFilter) -> tuple[list[Any], int]:
        with self.db.read() as conn:
            return store.queue(conn, f)

    def paper(self, pmid: str) -> dict[str, Any]:
        """Everything the draft page shows about one paper."""
        with self.db.read() as conn:
            draft = store.get(conn, pmid)
            record = conn.execute(select(Record.__table__).where(Record.pmid == pmid)).first()
            classification = conn.execute(select(Classification.__table__).where(
                Classification.id == draft.classification_id)).first()
            history = conn.execute(
                select(Classification.policy_version, Classification.content_hash,
                       Classification.relevance_label, Classification.relevance_route,
                       Classification.pem_label, Classification.design,
                       Classification.created_at)
                .where(Classification.pmid == pmid).order_by(Classification.id)).all()
            events = store.events(conn, pmid)
            corrections = store.corrections(conn, pmid)
            stored = stored_fulltext(conn, pmid)
            supplied = curator_texts.latest(conn, pmid)
        if record is None or classification is None:
            raise NotFoundError(f"PMID {pmid} has no stored record")
        result = classification.result
        content = DraftContent.from_json(draft.generated)
        policy = self.policy_for(classification.policy_version)
        document = load_document(stored) if stored is not None else None
        # the full text the classification read: a curator's copy first, else PMC's
        text = (curator_texts.text_of(supplied) if supplied is not None
                else document.text if document is not None else None)
        return {
            "fulltext": stored, "passages": passages(result, text) if text else [],
            "supplied": supplied,
            "draft": draft, "record": record, "classification": classification,
            "result": result, "content": content, "events": events,
            "corrections": corrections, "history": history,
            "models": _models(policy),
            "title_html": highlight(record.title, "title", result, content.sentences),
            "abstract_html": highlight(record.abstract, "abstract", result, content.sentences),
        }

    # -- changing --------------------------------------------------------------------
    def _flags(self, generated: Mapping[str, Any], fields: Mapping[str, str],
               result: Mapping[str, Any], record: Mapping[str, Any]) -> list[dict[str, Any]]:
        content = DraftContent.from_json(dict(generated))
        return [asdict(f) for f in check_wording(fields, content.sentences, result,
                                                 record=record)]

    def _single_review(self, pmid: str, *, pending_only: bool = False) -> None:
        """Under dual review a change to the shared draft would show one curator's work to
        the other: decisions go through scanner/review/dual.py instead."""
        if self.policy.review.mode != "dual":
            return
        with self.db.read() as conn:
            state = store.get(conn, pmid).state
        if pending_only and state != "pending":
            return
        raise ReviewError(f"policy {self.policy.version} uses dual review: record your own "
                          "decision (labels, evidence, text, approve or reject) instead")

    def save(self, pmid: str, version: int, fields: Mapping[str, str], user: str) -> int:
        self._single_review(pmid)
        with self.db.write() as conn:
            return self.save_fields(conn, pmid, version, fields, user)

    def save_fields(self, conn: Any, pmid: str, version: int, fields: Mapping[str, str],
              user: str) -> int:
        draft = store.get(conn, pmid)
        fields = {k: v for k, v in fields.items() if k in store.EDITABLE}
        merged = {**draft.fields, **fields}
        result = conn.execute(select(Classification.result).where(
            Classification.id == draft.classification_id)).scalar_one()
        record = conn.execute(select(Record.title, Record.abstract)
                              .where(Record.pmid == pmid)).one()._asdict()
        flags = self._flags(draft.generated, merged, result, record)
        return store.save(conn, pmid, expected_version=version, fields=fields, flags=flags,
                          actor=user)

    def approve(self, pmid: str, version: int, user: str,
                fields: Mapping[str, str] | None = None) -> int:
        """Save the fields shown (if changed) and approve them, in one transaction."""
        self._single_review(pmid)
        with self.db.write() as conn:
            if fields:
                version = self.save_fields(conn, pmid, version, fields, user)
            draft = store.get(conn, pmid)
            record = conn.execute(select(Record.__table__).where(Record.pmid == pmid)).one()
            now = utcnow()
            snapshot = published_snapshot(draft, record, user, now)
            return store.decide(conn, pmid, decision="approved", expected_version=version,
                                actor=user, snapshot=snapshot, now=now)

    def reject(self, pmid: str, version: int, user: str, reason: str,
               fields: Mapping[str, str] | None = None) -> int:
        if not reason.strip():
            raise ReviewError("give a reason for the rejection")
        self._single_review(pmid)
        with self.db.write() as conn:
            if fields:
                version = self.save_fields(conn, pmid, version, fields, user)
            return store.decide(conn, pmid, decision="rejected", expected_version=version,
                                actor=user, reason=reason)

    def correct(self, pmid: str, label: str, value: str, user: str,
                note: str | None = None) -> None:
        """Record a curator's correction of a classifier label, for the next training run."""
        self._single_review(pmid, pending_only=True)
        with self.db.write() as conn:
            draft = store.get(conn, pmid)
            if label == "definitions":
                new: Any = sorted({v.strip() for v in value.split(",") if v.strip()})
                known = {d.id for d in self.policy.case_definitions}
                unknown = [v for v in new if v not in known]
                if unknown:
                    raise ReviewError(f"unknown case definition(s): {', '.join(unknown)} "
                                      f"(known: {', '.join(sorted(known))})")
                result = conn.execute(select(Classification.result).where(
                    Classification.id == draft.classification_id)).scalar_one()
                old: Any = sorted({d["id"] for d in result["pem"]["definitions"]})
            elif label in LABELS:
                if value not in LABELS[label]:
                    raise ReviewError(f"{value!r} is not a {label} label "
                                      f"(one of {', '.join(LABELS[label])})")
                new = value
                old = {"relevance": draft.relevance_label, "pem": draft.pem_label,
                       "design": draft.design}[label]
            else:
                raise ReviewError(f"cannot correct {label!r}: one of relevance, pem, design, "
                                  "definitions")
            earlier = [c for c in store.corrections(conn, pmid) if c.field == label]
            if earlier:     # corrected before: the latest correction is the label now
                old = earlier[-1].new_value["value"]
            if old == new:
                raise ReviewError(f"the {label} label is already {value!r}")
            store.correct_label(conn, pmid, label=label, old=old, new=new, actor=user,
                                note=(note or "").strip() or None)

    def export(self, fmt: str) -> str:
        with self.db.read() as conn:
            rows = store.published(conn)
        return export_entries([dict(r.published) for r in rows], fmt)


def _models(policy: Policy | None) -> dict[str, str]:
    if policy is None:
        return {}
    out = {"policy": f"{policy.id} {policy.version}", "policy sha256": policy.sha256}
    if policy.relevance.artifact is not None:
        out["relevance model sha256"] = policy.relevance.artifact.sha256
    if policy.relevance.embedding is not None:
        out["embedding model"] = (f"{policy.relevance.embedding.model} "
                                  f"({policy.relevance.embedding.sha256[:12]}…)")
    return out


def published_snapshot(draft: Any, record: Any, user: str, now: dt.datetime) -> dict[str, Any]:
    generated = draft.generated
    return {
        "pmid": draft.pmid, "title": record.title, "fields": dict(draft.fields),
        "badge": generated.get("badge"), "stamps": generated.get("stamps"),
        "retraction": generated.get("retraction"), "leads": generated.get("leads", []),
        "labels": {"relevance": draft.relevance_label, "relevance_score": draft.relevance_score,
                   "route": draft.relevance_route, "pem": draft.pem_label,
                   "design": draft.design},
        "record": {"authors": record.authors, "journal": record.journal,
                   "journal_iso": record.journal_iso, "pub_year": record.pub_year,
                   "pub_date": record.pub_date, "doi": record.doi, "pmcid": record.pmcid,
                   "is_retracted": record.is_retracted},
        "approved_by": user, "approved_at": now.isoformat(), "version": draft.version + 1,
        "scanner_version": __version__,
    }


def highlight(text: str, source: str, result: Mapping[str, Any],
              sentences: tuple[Sentence, ...]) -> list[tuple[str, str]]:
    """``text`` cut into (piece, css classes): PEM evidence and the draft's source spans."""
    marks = [""] * len(text)
    spans: list[tuple[int, int, str]] = []
    for d in result.get("pem", {}).get("definitions", []):
        ev = d.get("evidence") or {}
        if ev.get("source") == source:
            spans.append((ev["start"], ev["end"], "ev-pem"))
    for s in sentences:
        for span in s.spans:
            if span.source == source:
                spans.append((span.start, span.end, "ev-src"))
    for start, end, cls in spans:
        for i in range(max(0, start), min(len(text), end)):
            if cls not in marks[i]:
                marks[i] = (marks[i] + " " + cls).strip()
    pieces: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and marks[j] == marks[i]:
            j += 1
        pieces.append((text[i:j], marks[i]))
        i = j
    return pieces


def passages(result: Mapping[str, Any], text: str, context: int = 600) -> list[dict[str, Any]]:
    """The full-text passages around each full-text evidence span, the span highlighted.

    Each passage is cut at whitespace about ``context`` characters either side; the
    offsets shown are those of the stored full text.
    """
    out = []
    for d in result.get("pem", {}).get("definitions", []):
        ev = d.get("evidence") or {}
        if ev.get("source") != "fulltext" or text[ev["start"]:ev["end"]] != ev["text"]:
            continue
        start = max(0, ev["start"] - context)
        end = min(len(text), ev["end"] + context)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        out.append({"definition": d["id"], "role": d["role"], "start": ev["start"],
                    "end": ev["end"], "pieces": [
                        (("… " if start else "") + text[start:ev["start"]], ""),
                        (text[ev["start"]:ev["end"]], "ev-pem"),
                        (text[ev["end"]:end] + (" …" if end < len(text) else ""), "")]})
    return out
