"""Curators' label corrections as training examples for the next policy version.

A correction (``label_corrections``, written by the review app) names the record version
it was made on; its text is that version's stored raw XML. The latest correction per
paper and label wins. Relevance corrections feed ``scanner train --corrections``: they
replace the label of a paper already in the labelled CSVs or add the paper. All labels
can be exported as a labelled CSV (``scanner corrections export``) in the columns of
``data/labels/*.csv`` (``source`` is ``store``: the text lives in the database).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select

from classifiers.policy import Policy, known_versions, load_policy
from scanner.training.datasets import Example

from ..errors import PolicyError
from ..store.db import Database
from ..store.models import LabelCorrection, RecordVersion
from ..store.records import decompress
from .stored import paper_from_raw

COLUMNS = ("pmid", "source", "relevance", "pem", "design", "human_participants",
           "definitions", "note")


def latest(db: Database) -> dict[str, dict[str, Any]]:
    """pmid -> {label: value, "_hash": content hash, "_note": ...}, the latest per label."""
    out: dict[str, dict[str, Any]] = {}
    with db.read() as conn:
        rows = conn.execute(select(LabelCorrection.__table__).order_by(LabelCorrection.id))
        for r in rows:
            entry = out.setdefault(r.pmid, {})
            value = r.new_value.get("value")
            entry[r.field] = ",".join(value) if isinstance(value, list) else value
            entry["_hash"] = r.content_hash
            entry["_note"] = f"corrected by {r.curator} on {r.policy_version}" + (
                f": {r.note}" if r.note else "")
    return out


def export_csv(db: Database) -> tuple[str, int]:
    """The corrections as a labelled CSV; returns (text, rows)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = latest(db)
    for pmid in sorted(rows, key=lambda p: (len(p), p)):
        e = rows[pmid]
        writer.writerow([pmid, "store", e.get("relevance", ""), e.get("pem", ""),
                         e.get("design", ""), "", e.get("definitions", ""), e["_note"]])
    return buf.getvalue(), len(rows)


def correction_examples(db: Database) -> list[Example]:
    """One example per paper with a relevance correction, its text from the stored XML."""
    wanted = {p: e for p, e in latest(db).items() if e.get("relevance")}
    out = []
    with db.read() as conn:
        for pmid in sorted(wanted):
            e = wanted[pmid]
            blob = conn.execute(
                select(RecordVersion.raw_xml_z)
                .where(and_(RecordVersion.pmid == pmid,
                            RecordVersion.content_hash == e["_hash"]))
                .order_by(RecordVersion.version.desc()).limit(1)).scalar_one_or_none()
            if blob is None:
                continue
            labels = {k: str(v) for k, v in e.items() if not k.startswith("_")}
            out.append(Example(paper=paper_from_raw(decompress(blob)), labels=labels))
    return out


def merge(examples: Sequence[Example], corrections: Sequence[Example]) -> tuple[list[Example],
                                                                                 int, int]:
    """Labelled examples with the corrections applied: (examples, replaced, added)."""
    by_pmid = {c.paper.pmid: c for c in corrections}
    out: list[Example] = []
    replaced = 0
    for ex in examples:
        c = by_pmid.pop(ex.paper.pmid, None)
        if c is None:
            out.append(ex)
        else:
            out.append(Example(paper=ex.paper, labels={**ex.labels, **c.labels}))
            replaced += 1
    added = [by_pmid[p] for p in sorted(by_pmid)]
    return out + added, replaced, len(added)


def check_target_free(policy: Policy, target: Path) -> None:
    """Refuse to write artifacts where another policy version's pinned artifact lives."""
    target = target.resolve()
    for version in known_versions(policy.root):
        if version == policy.version:
            continue
        try:
            other = load_policy(policy.root, version)
        except PolicyError:
            continue
        pin = other.relevance.artifact
        if pin is not None and (other.root / pin.path).resolve().parent == target:
            raise PolicyError(
                f"{target} holds the artifact pinned by policy {version}; train the new "
                f"version into its own directory (default: artifacts/{policy.version})")
