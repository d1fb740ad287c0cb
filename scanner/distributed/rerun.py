"""``scanner rerun --engine dask``: the rerun of :mod:`scanner.policy.rerun` on Dask workers.

The client reads the store exactly as the single-process rerun does (live records in
PMID order, in chunks of :data:`scanner.policy.rerun.CHUNK`, each current version's stored raw
XML parsed again), ships each chunk's papers to a worker as one task, and merges the
results itself: it is the store's only writer. Workers run the same pinned classifier
with the same torch thread count and see the same chunks, so the results are those of
``scanner rerun``; ``--verify`` compares them with the stored ones the same way.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifiers.paper import Paper
from classifiers.policy import Policy
from classifiers.result import ClassificationResult

from ..logs import kv
from ..policy.compare import SCORE_TOLERANCE, RerunReport, compare_into
from ..policy.fulltext import with_stored_fulltext
from ..policy.rerun import ledgered
from ..policy.runtime import RERUN_THREADS
from ..policy.stored import CHUNK, live_pmids, stored_inputs, stored_results
from ..store import runs
from ..store.classifications import store_classifications
from ..store.db import Database
from .cluster import progress_bar, worker_count
from .worker import PolicyRef, classify_papers, classify_with_texts

log = logging.getLogger(__name__)


def dask_rerun(db: Database, policy: Policy, client: Any, *, verify: bool = False,
               threads: int = RERUN_THREADS, tolerance: float = SCORE_TOLERANCE,
               cache_dir: Path | None = None, chunk: int = CHUNK,
               ledger: bool = True) -> RerunReport:
    """Re-classify every live record on ``client``'s workers.

    See :func:`scanner.policy.rerun.rerun`.
    """
    report = RerunReport(policy=policy.version, verify=verify)
    ref = PolicyRef.of(policy, cache_dir, threads)
    ahead = 2 * worker_count(client)  # chunks in flight: bounded client memory
    bar = progress_bar(0, "records", "rerun")
    remote = RemoteClassifier(client, ref)
    inflight: deque[tuple[Any, list[tuple[str, str]], list[Paper],
                          dict[str, ClassificationResult]]] = deque()
    try:
        with ledgered(db, policy, report, ledger=ledger, threads=threads, engine="dask",
                      workers=worker_count(client)):
            after = ""
            while True:
                with db.read() as conn:
                    pmids = live_pmids(conn, after, chunk)
                    if pmids:
                        inputs = stored_inputs(conn, pmids)
                        have = stored_results(conn, policy, [(p, h) for p, h, _ in inputs])
                if pmids:
                    after = pmids[-1]
                    report.records += len(inputs)
                    todo = [(p, h, paper) for p, h, paper in inputs if verify or p not in have]
                    if todo:
                        bar.total += len(todo)
                        bar.refresh()
                        papers = [x for _, _, x in todo]
                        fut = client.submit(classify_papers, ref, papers, pure=False)
                        inflight.append((fut, [(p, h) for p, h, _ in todo], papers, have))
                while inflight and (len(inflight) >= ahead or not pmids):
                    fut, keys, papers, have = inflight.popleft()
                    # As the single-process rerun: escalated papers read their stored full text.
                    results = with_stored_fulltext(db, policy, remote, papers,
                                                   fut.result()["results"])
                    _merge(db, policy, results, keys, have, report, verify, tolerance)
                    bar.update(len(keys))
                if not pmids:
                    break
            report.differences.sort(key=lambda d: d.pmid)
    finally:
        bar.close()
    log.info(kv("rerun", engine="dask", policy=policy.version, records=report.records,
                differences=len(report.differences), seconds=round(report.seconds, 2)))
    return report


class RemoteClassifier:
    """``classify`` on a worker (what :func:`with_stored_fulltext` calls for the few
    escalated papers), so the client never loads a model."""

    def __init__(self, client: Any, ref: PolicyRef) -> None:
        self.client, self.ref = client, ref

    def classify(self, papers: Sequence[Paper], fulltexts: Sequence[Any] | None = None, *,
                 missing: dict[str, str] | None = None) -> list[ClassificationResult]:
        texts = list(fulltexts) if fulltexts is not None else [None] * len(papers)
        result: list[ClassificationResult] = self.client.submit(
            classify_with_texts, self.ref, list(papers), texts, missing, pure=False).result()
        return result


def _merge(db: Database, policy: Policy, results: list[ClassificationResult],
           keys: list[tuple[str, str]], have: dict[str, ClassificationResult], report: RerunReport,
           verify: bool, tolerance: float) -> None:
    report.classified += len(results)
    if verify:
        compare_into(report, [pmid for pmid, _ in keys], results, have, tolerance)
        return
    with db.write() as conn:
        again = stored_results(conn, policy, keys)  # another writer may have stored some
        fresh = [r for (pmid, _), r in zip(keys, results, strict=True) if pmid not in again]
        store_classifications(conn, fresh, dict(keys), runs.utcnow())
    report.stored_new += len(fresh)
