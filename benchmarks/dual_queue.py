"""Benchmark: the dual-review queue (what still needs this curator's decision, what waits
for this adjudicator) against the plain pending queue, at 10,000 drafts in SQLite.

Builds the demo store, replicates it to N drafts (benchmarks/review.py), gives a share
of them one or two blind decisions by a pool of curators, then times
``store.queue`` in-process, first page, median of R runs. The baseline, measured in the
same run, is the single-review pending queue over the same store. Usage::

    .venv/bin/python benchmarks/dual_queue.py [--drafts N] [--runs R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.review import replicate  # noqa: E402
from scanner.store import drafts as store  # noqa: E402
from scanner.store.db import open_database  # noqa: E402
from scanner.store.models import Draft, ReviewDecision  # noqa: E402
from scanner.store.runs import utcnow  # noqa: E402
from tests.review_helpers import build_demo  # noqa: E402

CURATORS = ("alice", "bob", "chen", "dana", "eli", "fay")


def decide_some(url: str, one: float, two: float, seed: int = 11) -> tuple[int, int]:
    rng = random.Random(seed)
    db = open_database(url)
    now = utcnow()
    ones = twos = 0
    with db.write() as conn:
        rows = conn.execute(select(Draft.id, Draft.pmid, Draft.review_round)).all()
        batch = []
        for r in rows:
            x = rng.random()
            k = 2 if x < two else 1 if x < two + one else 0
            ones += k == 1
            twos += k == 2
            for name in rng.sample(CURATORS, k):
                batch.append({"draft_id": r.id, "pmid": r.pmid, "round": r.review_round,
                              "curator": name, "relevance": "mecfs", "pem": "required",
                              "evidence": {}, "design": "observational", "decision": "approve",
                              "note": None, "fields": {}, "classifier": {},
                              "decided_at": now, "policy_version": "bench"})
        conn.execute(insert(ReviewDecision), batch)
    db.dispose()
    return ones, twos


def median_ms(url: str, f: store.QueueFilter, runs: int) -> tuple[float, int]:
    db = open_database(url)
    times = []
    total = 0
    for _ in range(runs):
        start = time.perf_counter()
        with db.read() as conn:
            _rows, total = store.queue(conn, f)
        times.append((time.perf_counter() - start) * 1000)
    db.dispose()
    return statistics.median(times), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = build_demo(Path(tmp))
        replicate(url, args.drafts)
        ones, twos = decide_some(url, one=0.3, two=0.1)
        print(f"{args.drafts} drafts: {ones} with one decision, {twos} with two")
        base, n = median_ms(url, store.QueueFilter(), args.runs)
        print(f"pending queue (single review, baseline): {base:.2f} ms, {n} drafts")
        for name, f in (("alice's dual queue", store.QueueFilter(reviewer="alice")),
                        ("carol's adjudication queue", store.QueueFilter(adjudicator="carol"))):
            ms, n = median_ms(url, f, args.runs)
            print(f"{name}: {ms:.2f} ms ({ms / base:.2f}x baseline), {n} drafts")


if __name__ == "__main__":
    main()
