"""Curators' full texts in classification: a text a curator supplied is the paper's full text.

One rule, used by every path that classifies stored records (the scan, ``scanner rerun``
single-process and on Dask, ``scanner diff`` / ``policy activate``, and the upload itself):
a paper with a curator text (its latest row in ``curator_fulltexts``) is classified by

    classifier.classify([paper], [from_plain(text)])

that is, by the policy's own full-text rule, exactly as ``scanner classify --fulltext DIR``
reads a ``DIR/{pmid}.txt`` holding that text. Under a policy with ``[fulltext]`` the
passage reader (``classifiers/fulltext_reader.py``) reads its methods passages when the
abstract leaves PEM in ``escalate_labels`` (reader ``passages-2``, v0.4: also for an ME/CFS
paper the abstract models gave no participants, the text deciding); under v0.1 the text is
read whole. A curator's
copy takes precedence over a stored PMC text. Because the text is stored, a rerun reads it
again without the file and reproduces the labels and evidence decided from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classifiers.document import from_plain
from classifiers.paper import Paper
from classifiers.result import ClassificationResult

from ..store import curator_texts
from ..store.db import Database


def read_with_text(classifier: Any, paper: Paper, text: str) -> ClassificationResult:
    """The classification of ``paper`` with ``text`` as its full text."""
    result: ClassificationResult = classifier.classify([paper], [from_plain(text)])[0]
    return result


def with_curator_texts(db: Database, classifier: Any, papers: Sequence[Paper],
                       results: list[ClassificationResult]) -> list[ClassificationResult]:
    """``results`` with every paper that has a curator text reclassified from it."""
    with db.read() as conn:
        rows = curator_texts.latest_for(conn, [p.pmid for p in papers])
    if not rows:
        return results
    out = list(results)
    for i, paper in enumerate(papers):
        row = rows.get(paper.pmid)
        if row is not None:
            out[i] = read_with_text(classifier, paper, curator_texts.text_of(row))
    return out
