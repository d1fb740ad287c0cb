"""Benchmark: ingest a whole PubMed update file from a local E-utilities server.

Serves ``pubmed21n1298.xml.gz`` (20,788 records) from the replay server, runs
``scanner scan`` in a child process with the rate limit lifted, and compares its
records/s with a bare streaming parse of the same XML, each measured in its own child
process in this run (wall time and peak RSS from ``wait4``). Usage::

    .venv/bin/python benchmarks/ingest.py [--repeat N] [--batch-size N] [--file PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO.parent / "shared" / "data" / "pubmed_xml" / "pubmed21n1298.xml.gz"

PARSE = """
import sys
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
n = sum(isinstance(r, ParsedRecord) for r in iter_pubmed_xml(sys.argv[1]))
print(n)
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=200)
    args = ap.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"benchmark input not found: {args.file} (needs ../shared/data)")
    py = sys.executable
    env0 = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    # The server runs in its own process: this one stays small, so that the children's
    # peak RSS (inherited across fork) is their own.
    server = subprocess.Popen([py, "-m", "scanner.replay", str(args.file)],
                              stdout=subprocess.PIPE, text=True, env=env0)
    assert server.stdout is not None
    print("server:", server.stdout.readline().strip())
    base_url = server.stdout.readline().strip()
    parse_runs: list[tuple[float, float]] = []
    ingest_runs: list[tuple[float, float]] = []
    n_parsed = n_stored = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "bench.toml"
            cfg.write_text(
                f'[policy]\ndir = "{REPO / "policies"}"\n'
                f"[eutils]\nrequests_per_second = 0\nbatch_size = {args.batch_size}\n"
                "[scan]\nwindow_days = 400\n")
            for i in range(args.repeat):
                wall, rss, out = run_child([py, "-c", PARSE, str(args.file)], env0)
                n_parsed = int(out.strip())
                parse_runs.append((wall, rss))
                db = Path(tmp) / f"ingest{i}.sqlite"
                env = {**env0, "SCANNER_EUTILS_URL": base_url,
                       "SCANNER_DATABASE_URL": f"sqlite:///{db}"}
                subprocess.run([py, "-m", "scanner", "--config", str(cfg), "db", "upgrade"],
                               env=env, check=True, capture_output=True)   # not timed
                wall, rss, out = run_child(
                    [py, "-m", "scanner", "--config", str(cfg), "--log-level", "WARNING",
                     "scan", "--since", "1900-01-01", "--until", "2021-06-30"], env)
                n_stored = int(out.split(": ")[2].split()[0])
                ingest_runs.append((wall, rss))
                print(f"run {i + 1}: parse {parse_runs[-1][0]:.2f} s, ingest {wall:.2f} s "
                      f"({out.strip()})")
    finally:
        server.terminate()
        server.wait()
    n = n_stored
    parse_wall = statistics.median(w for w, _ in parse_runs)
    ingest_wall = statistics.median(w for w, _ in ingest_runs)
    ratios = [iw / pw for (pw, _), (iw, _) in zip(parse_runs, ingest_runs, strict=True)]
    print()
    print(f"records: {n} stored ({n_parsed} record elements parsed by the bare parse)")
    print(f"bare parse (baseline): {n_parsed / parse_wall:8.0f} records/s  median "
          f"{parse_wall:.2f} s  peak RSS {max(r for _, r in parse_runs):.0f} MiB")
    print(f"ingest (server->scan->SQLite): {n / ingest_wall:8.0f} records/s  median "
          f"{ingest_wall:.2f} s  peak RSS {max(r for _, r in ingest_runs):.0f} MiB")
    print(f"ingest time / parse time: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {len(ratios)} paired runs")


if __name__ == "__main__":
    main()
