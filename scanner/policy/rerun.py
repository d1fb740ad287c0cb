"""``scanner rerun``: re-classify stored records from their stored raw XML, offline.

A result cited "as classified under policy v0.1" must be reproducible: the same policy
file (sha256), the same model weights (sha256, checked by the classifier) and the same
input (the record version's raw XML as stored, parsed again, not the ``records`` columns)
give the same labels, routes, evidence spans and scores. Sources of nondeterminism are
fixed here: torch's thread count and seeds (:func:`deterministic_runtime`), and records
are read in PMID order. Library versions are compared with the artifact's manifest and
recorded in the run ledger (a ``scan_runs`` row of kind ``rerun``).

Without ``--verify`` a rerun stores results for live records that lack one under the
policy (idempotent). With ``--verify`` it re-classifies every live record and compares
with the stored result field by field; scores at :data:`SCORE_TOLERANCE`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from classifiers.policy import Policy

from ..logs import kv
from ..store import runs
from ..store.db import Database
from .compare import SCORE_TOLERANCE, RerunReport, compare_into
from .fulltext import with_stored_fulltext
from .runtime import RERUN_THREADS, deterministic_runtime, library_mismatches
from .stored import (
    CHUNK,
    ClassifierFactory,
    check_policy_recorded,
    live_pmids,
    once,
    results_under,
    stored_inputs,
    stored_results,
)

log = logging.getLogger(__name__)


@contextmanager
def ledgered(db: Database, policy: Policy, report: RerunReport, *, ledger: bool,
             threads: int, **runtime: Any) -> Iterator[None]:
    """One rerun's frame: runtime and library checks on ``report``, inside the run-ledger
    frame every run shares (:func:`scanner.store.runs.ledger`)."""
    from scanner.training.train import library_versions

    report.runtime = {**deterministic_runtime(threads), "libraries": library_versions(),
                      **runtime}
    report.warnings = library_mismatches(policy)
    for warning in report.warnings:
        log.warning(kv("library_mismatch", detail=warning))
    with db.read() as conn:
        check_policy_recorded(conn, policy)
    start = time.perf_counter()
    try:
        with runs.ledger(db, policy=policy, kind="rerun", counts=report.counts, record=ledger,
                         owner=f"{socket.gethostname()}:{os.getpid()}"):
            yield  # differences are in counts; "failed" is for errors
    finally:
        report.seconds = time.perf_counter() - start


def rerun(db: Database, policy: Policy, classifier: ClassifierFactory | Any, *,
          verify: bool = False, threads: int = RERUN_THREADS,
          tolerance: float = SCORE_TOLERANCE, ledger: bool = True) -> RerunReport:
    """Re-classify every live record from its stored raw XML under ``policy``.

    ``classifier`` is a classifier or a factory for one (the factory builds it only when
    something needs classifying, so a no-op rerun loads no model).
    """
    report = RerunReport(policy=policy.version, verify=verify)
    factory = once(classifier if not hasattr(classifier, "classify")
                   else (lambda: classifier))
    with ledgered(db, policy, report, ledger=ledger, threads=threads):
        if verify:
            _verify(db, policy, factory, report, tolerance)
        else:
            for item in results_under(db, policy, factory, store=True):
                report.records += 1
                if not item.stored:
                    report.classified += 1
                    report.stored_new += 1
    log.info(kv("rerun", policy=policy.version, records=report.records,
                differences=len(report.differences), seconds=round(report.seconds, 2)))
    return report


def _verify(db: Database, policy: Policy, factory: ClassifierFactory, report: RerunReport,
            tolerance: float) -> None:
    after = ""
    while True:
        with db.read() as conn:
            pmids = live_pmids(conn, after, CHUNK)
            if not pmids:
                return
            inputs = stored_inputs(conn, pmids)
            have = stored_results(conn, policy, [(p, h) for p, h, _ in inputs])
        after = pmids[-1]
        papers = [paper for _, _, paper in inputs]
        results = with_stored_fulltext(db, policy, factory(), papers,
                                       factory().classify(papers))
        report.records += len(inputs)
        report.classified += len(inputs)
        compare_into(report, [pmid for pmid, _, _ in inputs], results, have, tolerance)
