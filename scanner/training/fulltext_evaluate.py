"""``scanner evaluate --fulltext LABELS``: the passage reader on labelled real full texts.

The logic is ``classifiers/fulltext_eval.py``; this builds the policy's PEM reader and
prints the report (or JSON) per split, dev first, held-out after.
"""

from __future__ import annotations

import json
from pathlib import Path

from classifiers.document import FullText
from classifiers.fulltext_eval import (
    CaseClassifier,
    FulltextLabelError,
    evaluate_fulltext,
    figures,
    format_fulltext_report,
    load_fulltext_labels,
)
from classifiers.pipeline import policy_pem
from classifiers.policy import Policy

from ..errors import ScannerError
from ..resources import shared_data_dir

#: The shared full texts, below the shared data directory (read in place).
DEFAULT_TEXTS = "mecfs_fulltext"


def pipeline_case_classifier(policy: Policy) -> CaseClassifier | None:
    """A text read as ``classify --fulltext`` reads it under ``policy``: a record with the
    title only, its full text, and the whole pipeline. None for a policy that pins no
    trained model (the reader alone then)."""
    if policy.relevance.artifact is None:
        return None
    from classifiers.paper import Paper
    from classifiers.pipeline import PaperClassifier

    classifier = PaperClassifier(policy)

    def classify(title: str, doc: FullText | None) -> tuple[str, str]:
        paper = Paper(pmid="0", title=title, abstract="")
        result = classifier.classify([paper], [doc], missing={
            "0": "no full text in the labelled set"})[0]
        return result["pem"]["label"], result["pem"]["reason"]

    return classify


def fulltext_report(policy: Policy, labels: Path, texts: Path | None, split: str | None,
                    as_json: bool) -> str:
    root = texts or shared_data_dir() / DEFAULT_TEXTS
    if not root.is_dir():
        raise ScannerError(f"full-text directory not found: {root}")
    try:
        cases = load_fulltext_labels(labels, root)
    except FulltextLabelError as exc:
        raise ScannerError(str(exc)) from None
    if split:
        cases = [c for c in cases if c.split == split]
    spec = policy.fulltext
    outcomes = evaluate_fulltext(
        policy_pem(policy), cases, root, passage_reader=spec is not None,
        escalate=tuple(spec.escalate_labels) if spec is not None else ("unclear",),
        classify=pipeline_case_classifier(policy))
    head = (f"=== {labels} (policy {policy.version}, "
            f"{'passage reader' if spec is not None else 'whole text'}) ===\n")
    if as_json:
        by = {s: figures([o for o in outcomes if o.case.split == s])
              for s in sorted({o.case.split for o in outcomes})}
        return json.dumps({"policy": policy.version, "labels": str(labels), "splits": by},
                          indent=2)
    return head + format_fulltext_report(outcomes)
