"""Benchmark: `scanner ask` on patients' questions, hybrid (BM25 + MiniLM, RRF) vs BM25 alone.

Questions and their answering entries: ``data/questions/questions.csv`` (written from
titles before any ranker ran on them; see its README). Two entry sets, each read in
place: the 33 demo records (``data/demo/pubmed_demo.xml``) and the 109 real PubMed
records with an abstract in ``../shared/data/mecfs_records/openmecfs_union_records.jsonl``.
An entry here is its source text (title and abstract), the text ``scanner ask`` ranks.
Reports recall@5 (share of a question's answers in the top 5, averaged) and MRR (of the
first answer) per set and mode, and the time per question. Usage::

    .venv/bin/python benchmarks/ask.py [--modes bm25,hybrid,dense]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.policy import load_policy  # noqa: E402
from scanner.publish.ask import AskIndex  # noqa: E402
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
REAL = SHARED / "mecfs_records" / "openmecfs_union_records.jsonl"


def demo_entries() -> list[dict[str, Any]]:
    out = []
    for r in iter_pubmed_xml(str(REPO / "data" / "demo" / "pubmed_demo.xml")):
        if isinstance(r, ParsedRecord):
            out.append({"pmid": r.pmid, "title": r.title, "abstract": r.abstract})
    return sorted(out, key=lambda e: e["pmid"])


def real_entries() -> list[dict[str, Any]]:
    if not REAL.is_file():
        raise SystemExit(f"benchmarks/ask.py: {REAL} not found (../shared/data is needed)")
    out = []
    with REAL.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("abstract"):
                out.append({"pmid": str(r["pmid"]), "title": r["title"],
                            "abstract": r["abstract"]})
    return sorted(out, key=lambda e: e["pmid"])


def questions() -> list[dict[str, Any]]:
    with (REPO / "data" / "questions" / "questions.csv").open(encoding="utf-8") as fh:
        return [{**row, "answers": row["answers"].split(";")} for row in csv.DictReader(fh)]


def evaluate(index: AskIndex, qs: list[dict[str, Any]], mode: str) -> dict[str, float]:
    recall, rr = [], []
    start = time.perf_counter()
    for q in qs:
        ranked = [a.pmid for a in index.ask(q["question"], limit=len(index.entries),
                                             mode=mode)]
        wanted = set(q["answers"])
        recall.append(len(wanted & set(ranked[:5])) / len(wanted))
        first = next((i for i, p in enumerate(ranked, start=1) if p in wanted), None)
        rr.append(1.0 / first if first else 0.0)
    seconds = time.perf_counter() - start
    return {"recall@5": sum(recall) / len(recall), "mrr": sum(rr) / len(rr),
            "ms_per_question": 1000 * seconds / len(qs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="bm25,hybrid,dense")
    args = parser.parse_args()
    policy = load_policy(REPO / "policies", "v0.1")
    qs = questions()
    sets = {"demo": demo_entries(), "real": real_entries()}
    with tempfile.TemporaryDirectory() as cache:
        for name, entries in sets.items():
            mine = [q for q in qs if q["set"] == name]
            known = {e["pmid"] for e in entries}
            missing = [p for q in mine for p in q["answers"] if p not in known]
            if missing:
                raise SystemExit(f"answers not in the {name} set: {missing}")
            index = AskIndex(entries, policy, cache_dir=Path(cache))
            t0 = time.perf_counter()
            if any(m != "bm25" for m in args.modes.split(",")):
                index.dense_scores("warm up")       # encode the sentences once
            build = time.perf_counter() - t0
            print(f"{name}: {len(entries)} entries, {len(mine)} questions "
                  f"(sentence embeddings {build:.1f} s)")
            for mode in args.modes.split(","):
                r = evaluate(index, mine, mode)
                print(f"  {mode:7s} recall@5 {r['recall@5']:.3f}  MRR {r['mrr']:.3f}  "
                      f"{r['ms_per_question']:.1f} ms/question")


if __name__ == "__main__":
    main()
