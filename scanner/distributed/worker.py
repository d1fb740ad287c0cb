"""What runs on a Dask worker: the pinned classifier (loaded once per process), a
partition of a PubMed file read by byte range, Parquet written atomically.

Every function here is a plain module-level function taking picklable arguments, so
Dask ships it by reference; the worker imports this module and keeps, per process, one
classifier per (policy file, sha256, cache directory).
"""

from __future__ import annotations

import gzip
import os
import resource
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.paper import Paper
from classifiers.policy import Policy, load_policy
from classifiers.result import ClassificationResult

from ..errors import PolicyError, ScannerError
from ..pubmed.parse import ParsedRecord, parse_pubmed_xml

#: Parquet columns, in order: the contract's six first, then the rest of the result.
COLUMNS = ("pmid", "relevance_label", "relevance_score", "relevance_route", "pem_label",
           "policy_version", "pem_confidence", "pem_route", "study_design",
           "human_participants", "retracted", "policy_sha256", "scanner_version",
           "source_file", "partition", "result_json")


@dataclass(frozen=True)
class PolicyRef:
    """Enough to load the same pinned policy on a worker, and to check it is the same."""

    policy_dir: str
    version: str
    sha256: str
    cache_dir: str | None = None  # embedding cache; None: memory only
    threads: int = 1              # torch threads per worker process

    @classmethod
    def of(cls, policy: Policy, cache_dir: Path | None = None, threads: int = 1) -> PolicyRef:
        return cls(str(Path(policy.root).resolve()), policy.version, policy.sha256,
                   str(Path(cache_dir).resolve()) if cache_dir is not None else None, threads)


@dataclass(frozen=True)
class Partition:
    """Records ``[first, first + records)`` of one file: a byte range of its XML text."""

    path: str          # absolute; readable by the workers
    file_key: str      # name stem + the file's sha256 prefix
    index: int
    start: int         # offsets into the decompressed text
    end: int
    records: int
    first: int         # index of the partition's first record in the file

    @property
    def name(self) -> str:
        return f"{self.file_key}/part-{self.index:05d}.parquet"


# -- the per-process classifier -----------------------------------------------------------
_LOCK = threading.Lock()
_CLASSIFIERS: dict[PolicyRef, Any] = {}
LOADS = {"count": 0}


def classifier_for(ref: PolicyRef) -> Any:
    """The pinned classifier for ``ref``, built on this process's first call, then reused."""
    with _LOCK:
        found = _CLASSIFIERS.get(ref)
        if found is not None:
            return found
        from classifiers.pipeline import PaperClassifier

        from ..policy.runtime import deterministic_runtime

        policy = load_policy(Path(ref.policy_dir), ref.version)
        if policy.sha256 != ref.sha256:
            raise PolicyError(f"policy {ref.version} on worker {socket.gethostname()} hashes "
                              f"to {policy.sha256[:12]}..., the client's to {ref.sha256[:12]}...")
        deterministic_runtime(ref.threads)
        classifier = PaperClassifier(policy)
        embedding = classifier.relevance.embedding
        if ref.cache_dir is not None and embedding is not None and embedding.encoder:
            from classifiers.embedding_cache import CachedEncoder

            embedding.encoder = CachedEncoder.wrap(embedding.encoder, Path(ref.cache_dir))
        _CLASSIFIERS[ref] = classifier
        LOADS["count"] += 1
        return classifier


def process_stats() -> dict[str, Any]:
    """This worker process: pid, peak resident memory (bytes), classifier loads."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"pid": os.getpid(), "host": socket.gethostname(), "peak_rss": peak_kb * 1024,
            "loads": LOADS["count"]}


def classify_papers(ref: PolicyRef, papers: Sequence[Paper]) -> dict[str, Any]:
    """Contract results for ``papers``, in order (``scanner rerun --engine dask``)."""
    start = time.perf_counter()
    results = classifier_for(ref).classify(list(papers)) if papers else []
    return {"results": results, "seconds": time.perf_counter() - start, **process_stats()}


def classify_with_texts(ref: PolicyRef, papers: Sequence[Paper], fulltexts: Sequence[Any],
                        missing: dict[str, str] | None) -> list[dict[str, Any]]:
    """Results with full texts given (a rerun's escalated papers, their stored text)."""
    return list(classifier_for(ref).classify(list(papers), list(fulltexts), missing=missing))


# -- sweep partitions ---------------------------------------------------------------------
def read_range(path: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the file's (decompressed) text."""
    opener: Any = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as fh:
        fh.seek(start)  # gzip: decompresses and discards up to start
        data: bytes = fh.read(end - start)
    if len(data) != end - start:
        raise ScannerError(f"{path} is shorter than when it was planned (changed?)")
    return data


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def partition_papers(part: Partition) -> list[Paper]:
    body = read_range(part.path, part.start, part.end)
    items = parse_pubmed_xml(b"<PubmedArticleSet>" + body + b"</PubmedArticleSet>")
    records = [i for i in items if isinstance(i, ParsedRecord)]
    if len(records) != part.records:
        raise ScannerError(f"{part.path} partition {part.index}: {len(records)} records, "
                           f"planned {part.records} (the file changed?)")
    return [Paper.from_record(r) for r in records]


def rows(results: Sequence[ClassificationResult], source: str, index: int) -> dict[str, list[Any]]:
    import json

    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for r in results:
        for name, value in (
                ("pmid", r["pmid"]), ("relevance_label", r["relevance"]["label"]),
                ("relevance_score", float(r["relevance"]["score"])),
                ("relevance_route", r["relevance"]["route"]), ("pem_label", r["pem"]["label"]),
                ("policy_version", r["policy"]["version"]),
                ("pem_confidence", float(r["pem"]["confidence"])),
                ("pem_route", r["pem"]["route"]), ("study_design", r["study"]["design"]),
                ("human_participants", r["study"]["human_participants"]),
                ("retracted", bool(r["retracted"])), ("policy_sha256", r["policy"]["sha256"]),
                ("scanner_version", r["scanner_version"]), ("source_file", source),
                ("partition", index),
                ("result_json", json.dumps(r, ensure_ascii=False, sort_keys=True))):
            cols[name].append(value)
    return cols


def write_parquet(columns: dict[str, list[Any]], path: Path) -> None:
    """Write atomically: a temporary name in the same directory, then rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("pmid", pa.string()), ("relevance_label", pa.string()),
        ("relevance_score", pa.float64()), ("relevance_route", pa.string()),
        ("pem_label", pa.string()), ("policy_version", pa.string()),
        ("pem_confidence", pa.float64()), ("pem_route", pa.string()),
        ("study_design", pa.string()), ("human_participants", pa.bool_()),
        ("retracted", pa.bool_()), ("policy_sha256", pa.string()),
        ("scanner_version", pa.string()), ("source_file", pa.string()),
        ("partition", pa.int32()), ("result_json", pa.string())])
    table = pa.Table.from_pydict(columns, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def classify_partition(ref: PolicyRef, part: Partition, out_dir: str) -> dict[str, Any]:
    """Classify one partition and write its Parquet file; returns what the manifest keeps.

    Idempotent: a recomputed partition (its worker died, or a resumed sweep) replaces the
    same file name with the same rows, so a record is never written twice.
    """
    start = time.perf_counter()
    papers = partition_papers(part)
    results = classifier_for(ref).classify(papers)
    target = Path(out_dir) / "parts" / part.name
    write_parquet(rows(results, Path(part.path).name, part.index), target)
    return {"file": part.file_key, "partition": part.index, "records": len(results),
            "path": str(target.relative_to(out_dir)), "seconds": time.perf_counter() - start,
            **process_stats()}
