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

import json
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, select

from classifiers.paper import Paper
from classifiers.policy import Policy

from ..errors import PolicyError, ScannerError
from ..logs import kv
from ..pubmed.parse import ParsedRecord, parse_pubmed_xml
from ..store import policies as policy_store
from ..store import runs
from ..store.classifications import check_policy_unchanged, store_classifications
from ..store.db import Database
from ..store.models import Classification, Record, RecordVersion
from ..store.records import decompress
from .fulltext import with_stored_fulltext

log = logging.getLogger(__name__)

#: Scores and confidences (stored rounded to 6 decimals) compare equal within this.
SCORE_TOLERANCE = 1e-6
#: torch threads for every rerun, on any machine (a float sum's order depends on it).
RERUN_THREADS = 1
#: Libraries whose version is compared with the model manifest.
CHECKED_LIBRARIES = ("python", "numpy", "scikit-learn", "scipy", "torch",
                     "sentence-transformers", "transformers")
CHUNK = 256

ClassifierFactory = Callable[[], Any]


# -- the runtime --------------------------------------------------------------------------
def deterministic_runtime(threads: int = RERUN_THREADS) -> dict[str, Any]:
    """Fix the process-wide sources of nondeterminism; returns what was set."""
    random.seed(0)
    import numpy as np

    np.random.seed(0)
    out: dict[str, Any] = {"threads": threads}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return out
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    out["torch_threads"] = torch.get_num_threads()
    return out


def manifest_libraries(policy: Policy) -> dict[str, str]:
    """Library versions recorded in the manifest next to the policy's artifact."""
    if policy.relevance.artifact is None:
        return {}
    path = (policy.root / policy.relevance.artifact.path).resolve().parent / "manifest.json"
    if not path.is_file():
        return {}
    libs = json.loads(path.read_text(encoding="utf-8")).get("libraries", {})
    return {str(k): str(v) for k, v in libs.items()}


def library_mismatches(policy: Policy) -> list[str]:
    """One warning per checked library whose version differs from the manifest."""
    from scanner.training.train import library_versions

    recorded = manifest_libraries(policy)
    here = library_versions()
    out = []
    for name in CHECKED_LIBRARIES:
        if name in recorded and recorded[name] != here.get(name):
            out.append(f"{name} {here.get(name)} here, {recorded[name]} in the manifest of "
                       f"policy {policy.version}'s artifact: results may differ")
    return out


def check_policy_recorded(conn: Connection, policy: Policy) -> None:
    """Refuse a policy file that changed after results or its activation were stored."""
    check_policy_unchanged(conn, policy)
    row = policy_store.get(conn, policy.version) if _has_states(conn) else None
    if row is not None and row.sha256 != policy.sha256:
        raise PolicyError(
            f"policy {policy.version} changed after it was activated: recorded with sha256 "
            f"{row.sha256[:12]}..., the file now hashes to {policy.sha256[:12]}...; restore "
            "the file or give the changed policy a new version")


def _has_states(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table("policy_states")


# -- inputs: stored raw XML ---------------------------------------------------------------
def paper_from_raw(raw_xml: bytes) -> Paper:
    """The classifiers' view of one stored record version, parsed again from its XML."""
    body = raw_xml.lstrip()
    if body.startswith(b"<?xml"):
        body = body[body.index(b"?>") + 2:]
    # Stored as the bare <PubmedArticle> (or <PubmedBookArticle>) element.
    document = b"<PubmedArticleSet>" + body + b"</PubmedArticleSet>"
    items = [i for i in parse_pubmed_xml(document) if isinstance(i, ParsedRecord)]
    if len(items) != 1:
        raise ScannerError(f"stored raw XML holds {len(items)} records, expected one")
    return Paper.from_record(items[0])


def live_pmids(conn: Connection, after: str, limit: int,
               only: Sequence[str] | None = None) -> list[str]:
    stmt = (select(Record.pmid).where(Record.deleted_at.is_(None), Record.pmid > after)
            .order_by(Record.pmid).limit(limit))
    if only is not None:
        stmt = stmt.where(Record.pmid.in_(list(only)))
    return list(conn.execute(stmt).scalars())


def stored_inputs(conn: Connection, pmids: Sequence[str]) -> list[tuple[str, str, Paper]]:
    """(pmid, content hash, paper) of each record's current version, in PMID order."""
    newest = (select(RecordVersion.pmid, func.max(RecordVersion.version).label("version"))
              .join(Record, and_(Record.pmid == RecordVersion.pmid,
                                 Record.content_hash == RecordVersion.content_hash))
              .where(RecordVersion.pmid.in_(list(pmids)))
              .group_by(RecordVersion.pmid).subquery())
    rows = conn.execute(
        select(RecordVersion.pmid, RecordVersion.content_hash, RecordVersion.raw_xml_z)
        .join(newest, and_(newest.c.pmid == RecordVersion.pmid,
                           newest.c.version == RecordVersion.version))
        .order_by(RecordVersion.pmid)).all()
    found = {r.pmid for r in rows}
    missing = [p for p in pmids if p not in found]
    if missing:
        raise ScannerError(f"no stored raw XML for the current version of record(s) "
                           f"{', '.join(missing[:5])}")
    return [(r.pmid, r.content_hash, paper_from_raw(decompress(r.raw_xml_z))) for r in rows]


def stored_results(conn: Connection, policy: Policy,
                   keys: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Stored results under ``policy`` for (pmid, content hash) pairs, by PMID."""
    if not keys:
        return {}
    wanted = dict(keys)
    rows = conn.execute(select(Classification.pmid, Classification.content_hash,
                               Classification.result)
                        .where(Classification.policy_version == policy.version,
                               Classification.pmid.in_(list(wanted))))
    return {r.pmid: dict(r.result) for r in rows if wanted.get(r.pmid) == r.content_hash}


def once(factory: ClassifierFactory) -> ClassifierFactory:
    """The factory's classifier, built on the first call and reused after."""
    if getattr(factory, "_once", False):
        return factory
    built: list[Any] = []

    def get() -> Any:
        if not built:
            built.append(factory())
        return built[0]

    get._once = True  # type: ignore[attr-defined]
    return get


@dataclass
class Classified:
    pmid: str
    content_hash: str
    result: dict[str, Any]
    stored: bool  # read from the store (True) or computed now (False)


def results_under(db: Database, policy: Policy, classifier: ClassifierFactory, *,
                  use_stored: bool = True, store: bool = False,
                  only: Sequence[str] | None = None, chunk: int = CHUNK) -> Iterator[Classified]:
    """Every live record's result under ``policy``, in PMID order.

    Stored results are used where present (``use_stored``); the rest are computed from the
    stored raw XML with ``classifier()`` (built on first need) and, with ``store``, saved.
    """
    classifier = once(classifier)
    after = ""
    while True:
        with db.read() as conn:
            pmids = live_pmids(conn, after, chunk, only)
            if not pmids:
                return
            inputs = stored_inputs(conn, pmids)
            have = stored_results(conn, policy, [(p, h) for p, h, _ in inputs])
        after = pmids[-1]
        todo = [(p, h, paper) for p, h, paper in inputs if not (use_stored and p in have)]
        computed: dict[str, dict[str, Any]] = {}
        if todo:
            papers = [paper for _, _, paper in todo]
            results = with_stored_fulltext(db, policy, classifier(), papers,
                                           classifier().classify(papers))
            computed = {r["pmid"]: r for r in results}
            if store:
                with db.write() as conn:
                    again = stored_results(conn, policy, [(p, h) for p, h, _ in todo])
                    fresh = [computed[p] for p, _, _ in todo if p not in again]
                    store_classifications(conn, fresh, {p: h for p, h, _ in todo},
                                          runs.utcnow())
        for pmid, content_hash, _ in inputs:
            if pmid in computed:
                yield Classified(pmid, content_hash, computed[pmid], False)
            else:
                yield Classified(pmid, content_hash, have[pmid], True)


# -- comparison ---------------------------------------------------------------------------
def _spans(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((d["id"], d["pem"], d["role"], d["evidence"]["source"],
                   d["evidence"]["start"], d["evidence"]["end"], d["evidence"]["text"])
                  for d in result["pem"]["definitions"])


def _span_text(spans: list[tuple[Any, ...]]) -> str:
    return "; ".join(f"{s[0]}/{s[2]}@{s[3]}[{s[4]}:{s[5]}]" for s in spans) or "none"


def compare_into(report: RerunReport, pmids: Sequence[str], results: Sequence[dict[str, Any]],
                 have: dict[str, dict[str, Any]], tolerance: float) -> None:
    """Compare computed results with the stored ones, adding differences to ``report``."""
    for pmid, computed in zip(pmids, results, strict=True):
        stored = have.get(pmid)
        if stored is None:
            report.unverified += 1
            continue
        report.compared += 1
        for name, a, b in compare_results(stored, computed, tolerance):
            report.differences.append(Difference(pmid, name, a, b))


def compare_results(stored: dict[str, Any], computed: dict[str, Any],
                    tolerance: float = SCORE_TOLERANCE) -> list[tuple[str, Any, Any]]:
    """(field, stored, computed) for every field that differs; scores within tolerance."""
    out: list[tuple[str, Any, Any]] = []
    exact = (("policy.sha256", ("policy", "sha256")),
             ("relevance.label", ("relevance", "label")),
             ("relevance.route", ("relevance", "route")),
             ("pem.label", ("pem", "label")), ("pem.route", ("pem", "route")),
             ("pem.reason", ("pem", "reason")),
             ("study.design", ("study", "design")),
             ("study.human_participants", ("study", "human_participants")),
             ("retracted", ("retracted",)))
    for name, path in exact:
        a: Any = stored
        b: Any = computed
        for key in path:
            a = a.get(key) if isinstance(a, dict) else None
            b = b.get(key) if isinstance(b, dict) else None
        if a != b:
            out.append((name, a, b))
    for name, (group, key) in (("relevance.score", ("relevance", "score")),
                               ("pem.confidence", ("pem", "confidence"))):
        a, b = stored[group][key], computed[group][key]
        if abs(float(a) - float(b)) > tolerance + 1e-12:
            out.append((name, a, b))
    sa, sb = _spans(stored), _spans(computed)
    if sa != sb:
        out.append(("pem.evidence", _span_text(sa), _span_text(sb)))
    return out


@dataclass
class Difference:
    pmid: str
    field: str
    stored: Any
    computed: Any

    def line(self) -> str:
        return f"{self.pmid}\t{self.field}\tstored={self.stored!r}\trerun={self.computed!r}"


@dataclass
class RerunReport:
    policy: str
    verify: bool
    records: int = 0
    classified: int = 0  # computed now
    stored_new: int = 0  # saved by this run (without --verify)
    compared: int = 0
    unverified: int = 0  # --verify: records with no stored result to compare with
    differences: list[Difference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    runtime: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        if self.verify:
            papers = len({d.pmid for d in self.differences})
            text = (f"rerun --verify under policy {self.policy}: {self.compared} records "
                    f"compared, {len(self.differences)} differences in {papers} papers")
            if self.unverified:
                text += f", {self.unverified} with no stored result (not compared)"
        else:
            text = (f"rerun under policy {self.policy}: {self.records} live records, "
                    f"{self.stored_new} newly classified and stored")
        return text + f" ({self.seconds:.1f} s, {self.rate:.0f} records/s)"

    def counts(self) -> dict[str, Any]:
        return {"records": self.records, "classified": self.classified,
                "stored": self.stored_new, "compared": self.compared,
                "unverified": self.unverified, "differences": len(self.differences),
                "verify": self.verify, "warnings": self.warnings, "runtime": self.runtime}


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
