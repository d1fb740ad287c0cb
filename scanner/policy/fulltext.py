"""Full text under a policy: which papers its ``[fulltext]`` table sends to their full text,
and reclassifying them from the text already stored (what reruns use: no request)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classifiers.paper import Paper
from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..store.db import Database
from ..store.fulltexts import load_document, record_pmcid, stored_fulltext

NO_PMCID = "no PMCID, so no open-access full text in PMC"
NO_OA = "no open-access full text in PMC"


def wants_fulltext(policy: Policy, result: ClassificationResult) -> bool:
    """Whether a scan fetches the paper's full text (and a rerun reads the stored one).

    An ME/CFS paper whose abstract leaves PEM in ``escalate_labels``; under reader
    ``passages-2`` also one the abstract models judged to have no participants of its own
    (``not_applicable``), since the full text decides that (a review stays one there)."""
    spec = policy.fulltext
    if spec is None or not spec.escalate or "pmc" not in spec.sources or \
            result["relevance"]["label"] != "mecfs":
        return False
    label = result["pem"]["label"]
    if spec.reader == "passages-2":
        return label in (*spec.escalate_labels, "not_applicable")
    return bool(label in spec.escalate_labels
                and result["study"]["human_participants"] is not False)


def with_stored_fulltext(db: Database, policy: Policy, classifier: Any,
                         papers: Sequence[Paper], results: list[ClassificationResult],
                         ) -> list[ClassificationResult]:
    """``results`` with escalated papers reclassified from their *stored* full text.

    What reruns use: no request is made, so a rerun under a policy with ``[fulltext]``
    reads exactly the text the scan read (and gives the reason the scan gave when there
    was none). A paper with a curator's full text reads that instead, under any policy
    (``curator_fulltext.py``).
    """
    from .curator_fulltext import with_curator_texts

    out = list(results)
    for i, (paper, result) in enumerate(zip(papers, results, strict=True)):
        if not wants_fulltext(policy, result):
            continue
        with db.read() as conn:
            row = stored_fulltext(conn, paper.pmid)
            pmcid = record_pmcid(conn, paper.pmid)
        doc = load_document(row) if row is not None else None
        why = NO_PMCID if not pmcid else (row.note if row is not None and row.note
                                          else NO_OA)
        out[i] = classifier.classify([paper], [doc], missing={paper.pmid: why})[0]
    return with_curator_texts(db, classifier, papers, out)
