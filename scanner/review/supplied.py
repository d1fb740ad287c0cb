"""A curator supplies a paper's full text: store it, read it, update the draft.

Shared by the draft page's upload form and the JSON API (``upload.py``). In one go:

1. the paper's current record version is classified again with the text as its full text
   (``scanner/policy/curator_fulltext.py``: the policy's own full-text rule, the passage reader
   under a policy with ``[fulltext]``), under every policy that has a result for that
   version, so ``scanner rerun --verify`` under any of them reproduces what is stored;
2. in one write transaction: the text is stored (``curator_fulltexts``, with its sha256
   and who supplied it), those classifications take the new results, and the draft takes
   the new labels and generated text, except where people wrote: a field the curator
   edited keeps their text (the new reading is shown beside it on the page) and a decided
   entry keeps every field, going back to the queue if its labels changed;
3. one ``fulltext`` row in ``draft_events`` audits it: who, the upload's kind, size and
   sha256, the stored text's sha256, the PEM label before and after.

Nothing is stored when the text cannot be read (``fulltext_upload.py``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update

from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..drafts.pipeline import generate
from ..drafts.wording import check_wording
from ..errors import ReviewError
from ..logs import kv
from ..policy.curator_fulltext import read_with_text
from ..policy.stored import stored_inputs
from ..store import curator_texts
from ..store import drafts as store
from ..store.models import Classification, Record
from ..store.runs import utcnow
from .fulltext_upload import Extracted
from .service import Review

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CLASSIFIERS: dict[tuple[str, str], Any] = {}


def classifier_for(policy: Policy) -> Any:
    """The policy's classifier, built once per process (every pin checked on the build)."""
    key = (policy.version, policy.sha256)
    with _LOCK:
        if key not in _CLASSIFIERS:
            from classifiers.pipeline import PaperClassifier

            _CLASSIFIERS[key] = PaperClassifier(policy)
        return _CLASSIFIERS[key]


@dataclass
class Supplied:
    """What an upload did, for the page's message and the API's answer."""

    pmid: str
    version: int
    kind: str
    text_sha256: str
    characters: int
    pem_before: str
    pem_after: str
    evidence: list[dict[str, Any]] = field(default_factory=list)   # fulltext evidence
    kept: list[str] = field(default_factory=list)                  # fields people wrote
    requeued: bool = False

    def message(self) -> str:
        read = (f"PEM {self.pem_after.replace('_', ' ')} from the supplied full text"
                if self.evidence else
                f"PEM stays {self.pem_after.replace('_', ' ')}: the reading of the supplied "
                "text names no case definition used for inclusion")
        if self.evidence and self.pem_before != self.pem_after:
            read += f" (was {self.pem_before.replace('_', ' ')})"
        text = f"Full text stored ({self.characters:,} characters) and read: {read}."
        if self.kept:
            text += (" Your edited text was kept in: " + ", ".join(self.kept)
                     + "; the new reading is shown beside it.")
        if self.requeued:
            text += " The entry is back in the queue because its labels changed."
        return text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _fulltext_evidence(result: ClassificationResult) -> list[dict[str, Any]]:
    return [{"definition": d["id"], "role": d["role"], **d["evidence"]}
            for d in result["pem"]["definitions"] if d["evidence"]["source"] == "fulltext"]


def merge_fields(draft: Any, new: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The fields a re-read may replace, and the names of those kept as people wrote them.

    A field is the curator's when its text differs from what was last generated for it; a
    decided entry's fields are all the curator's (they approved or rejected that text).
    """
    before = (draft.generated or {}).get("fields", {})
    decided = draft.state != "pending"
    out: dict[str, str] = {}
    kept: list[str] = []
    for name in store.EDITABLE:
        if name not in new:
            continue
        current = draft.fields.get(name, "")
        if decided or current != before.get(name, current):
            if current != new[name]:
                kept.append(name)
            continue
        out[name] = new[name]
    return out, kept


def supply(review: Review, pmid: str, extracted: Extracted, user: str, *,
           expected_version: int | None = None) -> Supplied:
    """Store a curator's full text of ``pmid``, read it, and update the draft."""
    with review.db.read() as conn:
        draft = store.get(conn, pmid)
        record = conn.execute(select(Record.__table__).where(Record.pmid == pmid)).first()
        if record is None or record.deleted_at is not None:
            raise ReviewError(f"PMID {pmid} has no live record to read a full text for")
        if draft.content_hash != record.content_hash:
            raise ReviewError("the PubMed record changed since this draft was made; the next "
                              "scan classifies it again, supply the full text after that; "
                              "nothing was stored")
        _, content_hash, paper = stored_inputs(conn, [pmid])[0]
        rows = conn.execute(select(Classification.id, Classification.policy_version)
                            .where(Classification.pmid == pmid,
                                   Classification.content_hash == content_hash)
                            .order_by(Classification.id)).all()
    results: dict[int, ClassificationResult] = {}
    for row in rows:
        policy = review.policy_for(row.policy_version)
        if policy is None:     # a policy file no longer here: a rerun cannot run it either
            log.warning(kv("fulltext_policy_missing", pmid=pmid, policy=row.policy_version))
            continue
        classifier = classifier_for(policy)
        with _LOCK:
            results[row.id] = read_with_text(classifier, paper, extracted.text)
    if draft.classification_id not in results:
        raise ReviewError(f"policy {draft.policy_version} of this draft cannot be loaded, so "
                          "the full text cannot be read; nothing was stored")
    result = results[draft.classification_id]
    policy = review.policy_for(draft.policy_version)
    assert policy is not None
    content, _flags = generate(record, result, policy, utcnow().date())
    now = utcnow()
    with review.db.write() as conn:
        draft = store.get(conn, pmid)
        if expected_version is not None and draft.version != expected_version:
            store.check_version(conn, draft, expected_version)
        current = conn.execute(select(Record.content_hash).where(Record.pmid == pmid)
                               ).scalar_one()
        if current != content_hash or draft.content_hash != content_hash:
            raise ReviewError("the PubMed record changed while the full text was read; "
                              "try again; nothing was stored")
        row_id = curator_texts.add(
            conn, pmid, text=extracted.text, text_sha256=extracted.text_sha256,
            kind=extracted.kind, upload_sha256=extracted.sha256,
            upload_size=extracted.size, pages=extracted.pages, filename=extracted.filename,
            supplied_by=user, now=now)
        for cid, res in results.items():
            conn.execute(update(Classification).where(Classification.id == cid).values(
                result=res, relevance_label=res["relevance"]["label"],
                relevance_score=res["relevance"]["score"],
                relevance_route=res["relevance"]["route"], pem_label=res["pem"]["label"],
                pem_confidence=res["pem"]["confidence"], pem_route=res["pem"]["route"],
                design=res["study"]["design"],
                human_participants=res["study"]["human_participants"],
                scanner_version=res["scanner_version"], created_at=now))
        classification = conn.execute(select(Classification.__table__).where(
            Classification.id == draft.classification_id)).one()
        fields, kept = merge_fields(draft, content.fields)
        merged = {**draft.fields, **fields}
        flags = [asdict(f) for f in check_wording(
            merged, content.sentences, result,
            record={"title": record.title, "abstract": record.abstract})]
        changed = [name for name, old, new in (
            ("relevance", draft.relevance_label, classification.relevance_label),
            ("PEM status", draft.pem_label, classification.pem_label),
            ("design", draft.design, classification.design)) if old != new]
        requeue = (f"labels changed ({', '.join(changed)}) after {user} supplied the full "
                   "text; the published entry stays as approved until you decide"
                   if changed and draft.state != "pending" else None)
        version = store.reread(
            conn, draft, classification=classification, fields=fields,
            generated=content.to_json(), flags=flags, requeue_reason=requeue, actor=user,
            now=now, detail={"fulltext": {
                "id": row_id, "kind": extracted.kind, "size": extracted.size,
                "sha256": extracted.sha256, "text_sha256": extracted.text_sha256,
                "pages": extracted.pages, "filename": extracted.filename,
                "characters": len(extracted.text)},
                "pem": {"old": draft.pem_label, "new": classification.pem_label},
                "kept": kept, "policies": sorted(r.policy_version for r in rows
                                                 if r.id in results)})
    log.info(kv("fulltext_supplied", pmid=pmid, by=user, kind=extracted.kind,
                size=extracted.size, sha256=extracted.sha256,
                pem_before=draft.pem_label, pem_after=classification.pem_label))
    return Supplied(pmid=pmid, version=version, kind=extracted.kind,
                    text_sha256=extracted.text_sha256, characters=len(extracted.text),
                    pem_before=draft.pem_label, pem_after=classification.pem_label,
                    evidence=_fulltext_evidence(result), kept=kept,
                    requeued=requeue is not None)

