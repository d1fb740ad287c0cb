"""`scanner sweep` on a local Dask cluster of 2 workers vs 1 worker vs the single-process
`scanner classify`, on the same records of a PubMed update file, in one run.

Reports records/s, peak resident memory per worker process (and of the single process),
checks that the three agree on every label, and projects the full baseline (about 1,200
files, 40 million records) on N workers from the measured per-worker rate and the
measured 2-worker scaling.

    .venv/bin/python benchmarks/sweep.py [--limit N] [--partition-size N] [--json F]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_FILE = REPO.parent / "shared" / "data" / "pubmed_xml" / "pubmed21n1298.xml.gz"
BASELINE_RECORDS = 40_000_000
BASELINE_FILES = 1_200


def subset(path: Path, limit: int | None, directory: Path) -> Path:
    """The first ``limit`` records of ``path`` as a .xml.gz of its own (or ``path``)."""
    if limit is None:
        return path
    from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

    raw = []
    for item in iter_pubmed_xml(path):
        if isinstance(item, ParsedRecord):
            raw.append(item.raw_xml)
            if len(raw) >= limit:
                break
    out = directory / f"{path.name.split('.')[0]}_first{len(raw)}.xml.gz"
    with gzip.open(out, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n'
                 + b"\n".join(raw) + b"\n</PubmedArticleSet>\n")
    return out


def single_process(path: Path, directory: Path) -> dict[str, Any]:
    """`scanner classify` in a child process (its own peak memory)."""
    out = directory / "single.jsonl"
    start = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "scanner"), "classify", "--input", str(path),
                    "--output", str(out)], check=True, cwd=REPO)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    labels = {}
    lines = out.read_text().splitlines()
    for line in lines:
        r = json.loads(line)
        labels[r["pmid"]] = (r["relevance"]["label"], r["relevance"]["route"], r["pem"]["label"])
    return {"engine": "single-process classify", "workers": 1, "records": len(lines),
            "seconds": seconds, "records_per_s": len(lines) / seconds,
            "peak_rss_mb": [round(peak / 2**20)], "labels": labels}


def dask_run(path: Path, directory: Path, workers: int, partition_size: int) -> dict[str, Any]:
    import pyarrow.dataset as ds
    from dask.distributed import Client, LocalCluster

    from classifiers.policy import load_policy
    from scanner.distributed.sweep import run_sweep

    policy = load_policy(REPO / "policies", "v0.1")
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    startup = time.perf_counter() - t0
    out = directory / f"dask{workers}"
    try:
        # No embedding cache: every run computes every embedding it needs.
        report = run_sweep(client, [path], out, policy, partition_size=partition_size,
                           cache_dir=None)
    finally:
        client.close()
        cluster.close()
    table = ds.dataset(str(out / "parts"), format="parquet").to_table(
        columns=["pmid", "relevance_label", "relevance_route", "pem_label"]).to_pylist()
    labels = {r["pmid"]: (r["relevance_label"], r["relevance_route"], r["pem_label"])
              for r in table}
    busy = sum(w["seconds"] for w in report.workers.values())
    return {"engine": f"dask, {workers} worker(s)", "workers": workers,
            "records": report.records, "seconds": report.seconds,
            "cluster_startup_s": startup, "records_per_s": report.rate,
            "per_worker_busy_rate": report.records / busy if busy else 0.0,
            "partitions": report.partitions_run,
            "peak_rss_mb": sorted(round(w["peak_rss"] / 2**20)
                                  for w in report.workers.values()),
            "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--limit", type=int, default=None,
                        help="Only the first N records (the same N for all three runs).")
    parser.add_argument("--partition-size", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None, help="Write the figures here.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        directory = Path(tmp)
        path = subset(args.file, args.limit, directory)
        from scanner.distributed.sweep import plan_file

        t0 = time.perf_counter()
        _, parts = plan_file(args.file, args.partition_size)
        plan_s = time.perf_counter() - t0
        runs = [single_process(path, directory),
                dask_run(path, directory, 1, args.partition_size),
                dask_run(path, directory, 2, args.partition_size)]
    reference = runs[0].pop("labels")
    for run in runs[1:]:
        labels = run.pop("labels")
        run["labels_equal_single_process"] = labels == reference
    n = runs[0]["records"]
    one, two = runs[1], runs[2]
    efficiency = two["records_per_s"] / (2 * one["records_per_s"])
    per_worker = one["records_per_s"]
    # Linear: each worker on its own core at the 1-worker rate (a cluster of real nodes);
    # measured: scaled by this machine's 2-worker efficiency (shared cores included).
    projection = {str(w): {"linear_h": round(BASELINE_RECORDS / (per_worker * w) / 3600, 1),
                           "measured_h": round(BASELINE_RECORDS
                                               / (per_worker * w * min(1.0, efficiency))
                                               / 3600, 1)}
                  for w in (2, 16, 64, 256, 1024)}
    print(f"records: {n} from {args.file.name}"
          + (f" (first {args.limit})" if args.limit else "")
          + f"; partitions of {args.partition_size}")
    print(f"{'engine':28} {'seconds':>8} {'records/s':>10} {'speed-up':>9}  peak RSS MB")
    for run in runs:
        speed = run["records_per_s"] / runs[0]["records_per_s"]
        print(f"{run['engine']:28} {run['seconds']:8.1f} {run['records_per_s']:10.1f} "
              f"{speed:8.2f}x  {run['peak_rss_mb']}")
    for run in runs[1:]:
        print(f"{run['engine']}: cluster start {run['cluster_startup_s']:.1f} s, "
              f"per-worker busy rate {run['per_worker_busy_rate']:.1f} records/s, "
              f"labels equal to single process: {run['labels_equal_single_process']}")
    print(f"planning the whole file ({sum(p.records for p in parts)} records, {len(parts)} "
          f"partitions) on the client: {plan_s:.2f} s")
    print(f"2-worker efficiency {efficiency:.2f}; projected hours for the full baseline "
          f"({BASELINE_FILES} files, {BASELINE_RECORDS:,} records) at "
          f"{per_worker:.1f} records/s per worker:")
    print("  " + ", ".join(f"{w} workers: {h['linear_h']} h linear / {h['measured_h']} h "
                           "at the measured efficiency" for w, h in projection.items()))
    if args.json:
        args.json.write_text(json.dumps({"records": n, "runs": runs, "plan_s": plan_s,
                                         "efficiency": efficiency,
                                         "projection_hours": projection}, indent=2))


if __name__ == "__main__":
    main()
