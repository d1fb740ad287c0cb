"""Benchmark: classify a whole PubMed update file under the active policy.

Runs, each in its own child process (wall time and peak RSS from ``wait4``):

- ``classify``: ``scanner classify`` end to end (parse, design and term rules, TF-IDF
  relevance, embeddings only in the uncertain band, PEM rules), JSON lines out;
- ``baseline``: every record's text encoded with the embedding model alone, plus the
  policy's embedding classifier applied to all of them (what "embed everything" gives).

and reports records/s, the ratio, and how often the two agree on label and route.
Usage::

    .venv/bin/python benchmarks/classify.py [--file PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO.parent / "shared" / "data" / "pubmed_xml" / "pubmed21n1298.xml.gz"


def baseline(input_path: Path, output: Path, limit: int | None) -> None:
    sys.path.insert(0, str(REPO))
    from classifiers.paper import Paper
    from classifiers.pipeline import PaperClassifier
    from classifiers.policy import load_policy
    from classifiers.relevance import LABELS
    from scanner.config import load_settings
    from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml

    settings = load_settings(REPO / "config.toml")
    policy = load_policy(settings.policy_dir, settings.policy.active)
    clf = PaperClassifier(policy)
    emb = clf.relevance.embedding
    assert emb is not None
    point = policy.relevance.point()
    papers = [Paper.from_record(r) for r in iter_pubmed_xml(input_path)
              if isinstance(r, ParsedRecord)][:limit]
    proba = emb.predict_proba(papers)
    with output.open("w") as fh:
        for paper, p in zip(papers, proba, strict=True):
            score = float(1 - p[LABELS.index("not_relevant")])
            route = ("auto_include" if score >= point.include_at else
                     "auto_exclude" if score < point.exclude_below else "review")
            fh.write(json.dumps({"pmid": paper.pmid, "label": LABELS[int(p.argmax())],
                                 "route": route}) + "\n")


def run_child(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{err[-3000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--limit", type=int, default=None, help="first N records only")
    ap.add_argument("--child-baseline", nargs=2, metavar=("INPUT", "OUTPUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_baseline:
        baseline(Path(args.child_baseline[0]), Path(args.child_baseline[1]), args.limit)
        return
    if not args.file.is_file():
        raise SystemExit(f"benchmark input not found: {args.file} (needs ../shared/data)")
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        source = args.file
        if args.limit:
            source = Path(tmp) / "subset.xml"
            subprocess.run([py, "-c", SUBSET, str(args.file), str(source), str(args.limit)],
                           check=True)
        ours, theirs = Path(tmp) / "classify.jsonl", Path(tmp) / "baseline.jsonl"
        c_wall, c_rss = run_child([py, "-m", "scanner", "classify", "--input", str(source),
                                   "--output", str(ours)])
        b_wall, b_rss = run_child([py, str(Path(__file__).resolve()), "--child-baseline",
                                   str(source), str(theirs)])
        a = [json.loads(line) for line in ours.open()]
        b = {d["pmid"]: d for d in (json.loads(line) for line in theirs.open())}
    n = len(a)
    same_label = sum(x["relevance"]["label"] == b[x["pmid"]]["label"] for x in a)
    same_route = sum(x["relevance"]["route"] == b[x["pmid"]]["route"] for x in a)
    relevant = sum(x["relevance"]["route"] != "auto_exclude" for x in a)
    print(f"records: {n}")
    print(f"classify (end to end):        {n / c_wall:8.1f} records/s  {c_wall:7.1f} s  "
          f"peak RSS {c_rss:.0f} MiB")
    print(f"baseline (embed every paper): {n / b_wall:8.1f} records/s  {b_wall:7.1f} s  "
          f"peak RSS {b_rss:.0f} MiB")
    print(f"speed-up: {b_wall / c_wall:.2f}x")
    print(f"agreement with embedding everything: label {same_label / n:.2%}, "
          f"route {same_route / n:.2%}; not auto-excluded: {relevant}")


SUBSET = """
import sys
from lxml import etree
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
out = open(sys.argv[2], "wb")
out.write(b"<PubmedArticleSet>")
n = 0
for r in iter_pubmed_xml(sys.argv[1]):
    if isinstance(r, ParsedRecord) and n < int(sys.argv[3]):
        out.write(r.raw_xml); n += 1
out.write(b"</PubmedArticleSet>")
"""

if __name__ == "__main__":
    main()
