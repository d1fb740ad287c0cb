"""Benchmark: rerun of stored records with warm caches vs their first classification.

Ingests ``pubmed21n1298.xml.gz`` (or its first ``--limit`` records) from the local replay
server with ``scanner scan`` in a child process, under an ingest-only copy of the policy
that pins no model (so the scan stores records without classifying them). Then, in this
process and in the same run:

1. first classification: ``rerun`` under v0.1 of every stored record from its stored raw
   XML, cold (models loaded, embedding cache empty), results stored;
2. rerun with warm caches: ``rerun --verify`` of the same records with the same
   classifier (models loaded, embeddings cached), compared with what step 1 stored.

Prints records/s of both and their ratio. Usage::

    .venv/bin/python benchmarks/rerun.py [--limit N] [--file PATH]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_FILE = REPO.parent / "shared" / "data" / "pubmed_xml" / "pubmed21n1298.xml.gz"


def truncated(source: Path, target: Path, limit: int) -> int:
    """The first ``limit`` records of ``source`` as a PubmedArticleSet file."""
    from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

    n = 0
    with gzip.open(target, "wb") as out:
        out.write(b"<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n")
        for item in iter_pubmed_xml(source):
            if isinstance(item, ParsedRecord):
                out.write(item.raw_xml + b"\n")
                n += 1
                if n >= limit:
                    break
        out.write(b"</PubmedArticleSet>\n")
    return n


def ingest_only_policies(target: Path) -> None:
    """policies/ plus ``ingest.toml``: v0.1's query and rules, no model pinned."""
    shutil.copytree(REPO / "policies", target)
    text = (REPO / "policies" / "v0.1.toml").read_text()
    text = text.replace('version = "v0.1"', 'version = "ingest"', 1)
    text = re.sub(r"\[relevance\.artifact\]\npath = [^\n]*\nsha256 = [^\n]*\n", "", text)
    (target / "ingest.toml").write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--limit", type=int, default=0, help="First N records only (0: all).")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (rerun default 1).")
    args = ap.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"benchmark input not found: {args.file} (needs ../shared/data)")
    py = sys.executable
    env0 = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = args.file
        if args.limit:
            source = tmp / "subset.xml.gz"
            print(f"subset: {truncated(args.file, source, args.limit)} records")
        policies = tmp / "policies"
        ingest_only_policies(policies)
        db_path = tmp / "rerun.sqlite"
        cfg = tmp / "bench.toml"
        cfg.write_text(f'[policy]\ndir = "{policies}"\nactive = "ingest"\n'
                       "[eutils]\nrequests_per_second = 0\nbatch_size = 200\n"
                       "[scan]\nwindow_days = 400\n")
        server = subprocess.Popen([py, "-m", "scanner.replay", str(source)],
                                  stdout=subprocess.PIPE, text=True, env=env0)
        assert server.stdout is not None
        server.stdout.readline()
        base_url = server.stdout.readline().strip()
        try:
            env = {**env0, "SCANNER_EUTILS_URL": base_url,
                   "SCANNER_DATABASE_URL": f"sqlite:///{db_path}"}
            subprocess.run([py, "-m", "scanner", "--config", str(cfg), "db", "upgrade"],
                           env=env, check=True, capture_output=True)
            start = time.perf_counter()
            out = subprocess.run(
                [py, "-m", "scanner", "--config", str(cfg), "scan", "--since", "1900-01-01",
                 "--until", "2021-06-30"], env=env, check=True, capture_output=True,
                text=True).stdout
            print(f"ingest: {time.perf_counter() - start:.1f} s ({out.strip()})")
        finally:
            server.terminate()
            server.wait()

        from classifiers.pipeline import PaperClassifier
        from classifiers.policy import load_policy
        from scanner.policy.rerun import rerun
        from scanner.store.db import open_database

        db = open_database(f"sqlite:///{db_path}")
        policy = load_policy(policies, "v0.1")
        built: list[PaperClassifier] = []

        def build() -> PaperClassifier:
            built.append(PaperClassifier(policy))
            return built[-1]

        first = rerun(db, policy, build, threads=args.threads)
        print(f"first classification (cold, incl. model load): {first.stored_new} records in "
              f"{first.seconds:.1f} s = {first.rate:.0f} records/s")
        # the same classifier again: models loaded, embedding cache warm
        second = rerun(db, policy, built[0], verify=True, threads=args.threads)
        print(f"rerun --verify (warm caches): {second.records} records in "
              f"{second.seconds:.1f} s = {second.rate:.0f} records/s; "
              f"{len(second.differences)} differences")
        if first.rate:
            print(f"warm rerun / first classification speed: {second.rate / first.rate:.2f}x")
        for w in second.warnings:
            print("warning:", w)
        db.dispose()


if __name__ == "__main__":
    main()
