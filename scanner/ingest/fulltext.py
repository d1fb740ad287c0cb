"""Full-text escalation in scans: PMC JATS for papers the policy sends to their full text.

After a batch is classified from title and abstract, a paper whose PEM label is in the
policy's ``[fulltext] escalate_labels`` (``unclear``), with ME/CFS participants, is looked
up in PubMed Central by its PMCID (``efetch db=pmc`` through the scan's client: same rate
limiter, retries and body checks). The JATS is stored (``fulltexts``: pmid, pmcid, sha256,
zstd bytes, fetch time, source) and the paper reclassified with it; a paper without a
PMCID, or whose PMC record has no article body, keeps its label with the reason ("no
open-access full text in PMC"), and that outcome is stored too. A stored full text is
reused rather than fetched again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from classifiers.document import FullText, from_jats
from classifiers.paper import Paper
from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..errors import EutilsError
from ..logs import kv
from ..policy.fulltext import NO_OA, NO_PMCID, wants_fulltext
from ..pubmed.eutils import EutilsClient
from ..store.db import Database
from ..store.fulltexts import load_document, store_fulltext, stored_fulltext

log = logging.getLogger(__name__)











def escalate(db: Database, client: EutilsClient, policy: Policy, classifier: Any,
             papers: Sequence[Paper], pmcids: dict[str, str | None],
             results: list[ClassificationResult], now: dt.datetime) -> list[ClassificationResult]:
    """``results`` with escalated papers reclassified from their PMC full text."""
    out = list(results)
    for i, (paper, result) in enumerate(zip(papers, results, strict=True)):
        if not wants_fulltext(policy, result):
            continue
        pmcid = pmcids.get(paper.pmid)
        with db.read() as conn:
            row = stored_fulltext(conn, paper.pmid)
        doc: FullText | None = None
        why = NO_PMCID if not pmcid else NO_OA
        if row is not None and row.status == "ok" and row.pmcid == pmcid:
            doc = load_document(row)
        elif pmcid:
            try:
                raw = client.efetch_pmc(pmcid)
            except EutilsError as exc:   # PMC down: keep the abstract's label, say why
                log.warning(kv("fulltext_fetch_failed", pmid=paper.pmid, pmcid=pmcid,
                               error=str(exc)))
                why = f"full text could not be fetched from PMC ({pmcid})"
                raw = None
                with db.write() as conn:   # stored, so a rerun gives the same reason
                    store_fulltext(conn, paper.pmid, pmcid, None, why, now)
            else:
                doc = from_jats(raw) if raw else None
                with db.write() as conn:
                    store_fulltext(conn, paper.pmid, pmcid, raw if doc is not None else None,
                           None if doc is not None else NO_OA, now)
        out[i] = classifier.classify([paper], [doc], missing={paper.pmid: why})[0]
        log.info(kv("fulltext_escalated", pmid=paper.pmid, pmcid=pmcid,
                    read=doc is not None, label=out[i]["pem"]["label"]))
    return out


