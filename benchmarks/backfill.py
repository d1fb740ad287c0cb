"""Benchmark: requests and time of a backfill and of a one-day scan, old and new windows.

A synthetic corpus of ``--records`` records (default 20,000, about the whole ME/CFS
literature) with create dates from 1950 to yesterday, more of them every year (the
literature's growth), is served by the replay server. Each planner backfills an empty
SQLite store from 1950-01-01, then, one day later, runs the daily incremental scan (the
watermark minus the overlap) after a day's new records appeared:

- ``old``: fixed 31-day create-date windows, halved over the cap (``window_days = 31``);
- ``new``: one search over the whole range, partitioned by count only over the 9,999 cap
  (``window_days = 0``, the default).

The scans run with the rate limit lifted and count every request the server answered;
``s@3/s`` is the time the same requests take at NCBI's 3 requests/s without a key
(requests / 3, the floor a real scan cannot go under), ``wall`` the local run's time.
No classifier runs: this measures the scan itself. Usage::

    .venv/bin/python benchmarks/backfill.py [--records N] [--batch-size N] [--daily N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.policy import load_policy  # noqa: E402
from scanner.config import load_settings  # noqa: E402
from scanner.ingest.scan import Scanner  # noqa: E402
from scanner.pubmed.eutils import EutilsClient  # noqa: E402
from scanner.pubmed.ratelimit import RateLimiter  # noqa: E402
from scanner.replay import Corpus, ReplayServer  # noqa: E402
from scanner.store.db import open_database  # noqa: E402

TEMPLATE = REPO.parent / "shared" / "data" / "pubmed_xml" / (
    "pubmed21n1298_mecfs_and_near_miss.xml.gz")
TODAY = dt.date(2026, 12, 1)
FIRST = dt.date(1950, 1, 1)
NCBI_RATE = 3.0


def _dated(template: bytes, pmid: int, created: dt.date) -> bytes:
    root = etree.fromstring(template)
    node = root.find("MedlineCitation/PMID")
    assert node is not None
    node.text = str(pmid)
    for aid in root.iterfind("PubmedData/ArticleIdList/ArticleId"):
        if aid.get("IdType") == "pubmed":
            aid.text = str(pmid)
    for date in root.iterfind("PubmedData/History/PubMedPubDate"):
        if date.get("PubStatus") == "entrez":
            for tag, value in (("Year", created.year), ("Month", created.month),
                               ("Day", created.day)):
                part = date.find(tag)
                assert part is not None
                part.text = str(value)
    return etree.tostring(root, encoding="UTF-8")


def synthetic_corpus(n: int, seed: int = 1298) -> tuple[Corpus, list[bytes]]:
    """``n`` records, 1950..yesterday, yearly counts growing about 9 % a year."""
    source = Corpus.from_files([TEMPLATE])
    templates = [source.get(p) or b"" for p in sorted(source.pmids())[:50]]
    rng = random.Random(seed)
    years = list(range(FIRST.year, TODAY.year + 1))
    weights = [math.exp((y - FIRST.year) / 11) for y in years]
    corpus = Corpus()
    pmid = 40_000_000
    for year in rng.choices(years, weights, k=n):
        start = dt.date(year, 1, 1)
        last = min(dt.date(year, 12, 31), TODAY - dt.timedelta(days=2))
        created = start + dt.timedelta(days=rng.randrange((last - start).days + 1))
        pmid += 1
        corpus.add(pmid, _dated(templates[pmid % len(templates)], pmid, created), created)
    return corpus, templates


def run_scan(server: ReplayServer, workdir: Path, window_days: int, batch: int,
             today: dt.date, since: dt.date | None) -> dict[str, float]:
    cfg = workdir / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{workdir / "store.sqlite"}"\n'
                   f'[policy]\ndir = "{REPO / "policies"}"\n'
                   f'[eutils]\nbase_url = "{server.base_url}"\n'
                   f"batch_size = {batch}\nrequests_per_second = 0\n"
                   'email = "bench@example.org"\n'
                   f"[scan]\nwindow_days = {window_days}\n")
    settings = load_settings(cfg, environ={})
    db = open_database(settings.database_url)
    policy = load_policy(settings.policy_dir, settings.policy.active)
    client = EutilsClient(settings.eutils, limiter=RateLimiter(0), sleep=lambda _s: None)
    scanner = Scanner(settings, db, policy, client, today=lambda: today, progress=False)
    server.clear_requests()
    began = time.perf_counter()
    report = scanner.run(since=since)
    wall = time.perf_counter() - began
    client.close()
    db.engine.dispose()
    assert report.outcome == "succeeded", report.summary()
    searches = len(server.requests_for("esearch"))
    fetches = len(server.requests_for("efetch"))
    return {"found": report.counts.found, "new": report.counts.new, "windows":
            report.counts.windows, "esearch": searches, "efetch": fetches,
            "requests": searches + fetches, "wall": wall}


def line(name: str, r: dict[str, float]) -> str:
    per = 1000 / max(r["found"], 1)
    at3 = r["requests"] / NCBI_RATE
    return (f"{name:<22} {r['found']:>7.0f} {r['windows']:>7.0f} {r['esearch']:>7.0f} "
            f"{r['efetch']:>6.0f} {r['requests']:>8.0f} {r['requests'] * per:>9.1f} "
            f"{at3:>8.1f} {at3 * per:>9.2f} {r['wall']:>7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--daily", type=int, default=8, help="records created on the new day")
    args = ap.parse_args()
    if not TEMPLATE.is_file():
        raise SystemExit(f"benchmark input not found: {TEMPLATE} (needs ../shared/data)")
    corpus, templates = synthetic_corpus(args.records)
    print(f"corpus: {len(corpus)} records, create dates {FIRST}..{TODAY - dt.timedelta(days=2)}"
          f"; batch {args.batch_size}; rate lifted, s@3/s = requests / 3")
    header = (f"{'scan':<22} {'found':>7} {'windows':>7} {'esearch':>7} {'efetch':>6} "
              f"{'requests':>8} {'req/1000':>9} {'s@3/s':>8} {'s/1000':>9} {'wall_s':>7}")
    rows = []
    with ReplayServer(corpus) as server, tempfile.TemporaryDirectory() as tmp:
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, days in (("old", 31), ("new", 0)):
            work = Path(tmp) / name
            work.mkdir()
            results[name] = {"backfill": run_scan(server, work, days, args.batch_size,
                                                  TODAY - dt.timedelta(days=1), FIRST)}
        # a day passes: new records created yesterday, then each store's daily scan
        pmid = 50_000_000
        for i in range(args.daily):
            pmid += 1
            created = TODAY - dt.timedelta(days=1)
            corpus.add(pmid, _dated(templates[i % len(templates)], pmid, created), created)
        for name, days in (("old", 31), ("new", 0)):
            results[name]["one-day"] = run_scan(server, Path(tmp) / name, days,
                                                args.batch_size, TODAY, None)
        for kind in ("backfill", "one-day"):
            for name in ("old", "new"):
                rows.append(line(f"{kind} {name}", results[name][kind]))
    print(header)
    print("\n".join(rows))
    new = results["new"]["backfill"]
    print(f"new backfill: {new['esearch']:.0f} esearch + {new['efetch']:.0f} efetch "
          f"({math.ceil(new['found'] / args.batch_size)} batches of {args.batch_size})")


if __name__ == "__main__":
    main()
