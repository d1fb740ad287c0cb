"""Benchmark: the review app's queue and draft pages with 10,000 drafts in SQLite.

Builds a SQLite store from the demo scan (records, classifications and drafts made by
the real pipeline), replicates them to N drafts with fresh PMIDs and a spread of
priorities, years and labels, starts ``scanner serve`` in its own process and times
pages over real HTTP. Server time comes from the app's ``Server-Timing`` header; the
baseline measured in the same run is the sign-in page (a template with no query), so
ratios show what the database adds. Usage::

    .venv/bin/python benchmarks/review.py [--drafts N] [--requests N]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.store.db import open_database  # noqa: E402
from scanner.store.models import (  # noqa: E402
    Classification,
    Draft,
    DraftBody,
    DraftEvent,
    Record,
)
from tests.review_helpers import PASSWORD, build_demo  # noqa: E402


def replicate(url: str, target: int, seed: int = 7) -> None:
    """Copy the demo's drafts (with their records and classifications) to ``target``."""
    rng = random.Random(seed)
    db = open_database(url)
    with db.read() as conn:
        records = {r.pmid: r._asdict() for r in conn.execute(select(Record.__table__))}
        classes = {c.id: c._asdict() for c in conn.execute(select(Classification.__table__))}
        drafts = [d._asdict() for d in conn.execute(select(Draft.__table__))]
        bodies = {b.draft_id: b._asdict() for b in conn.execute(select(DraftBody.__table__))}
    n = len(drafts)
    pmid = 80_000_000
    with db.write() as conn:
        while n < target:
            batch_r, batch_c, batch_d = [], [], []
            for template in drafts[: min(len(drafts), target - n)]:
                pmid += 1
                p = str(pmid)
                rec = {**records[template["pmid"]], "pmid": p,
                       "pub_year": rng.randint(1994, 2026)}
                cls = {**classes[template["classification_id"]], "pmid": p}
                cls.pop("id")
                batch_r.append(rec)
                batch_c.append(cls)
                d = {**template, "pmid": p, "pub_year": rec["pub_year"],
                     "priority": round(rng.random() * 4, 6), "title": f"{rec['title']} #{p}"}
                d["body"] = bodies[d.pop("id")]
                batch_d.append(d)
            conn.execute(insert(Record), batch_r)
            ids = [conn.execute(insert(Classification).values(**c).returning(Classification.id))
                   .scalar_one() for c in batch_c]
            for d, cid in zip(batch_d, ids, strict=True):
                d["classification_id"] = cid
                body = d.pop("body")
                did = conn.execute(insert(Draft).values(**d).returning(Draft.id)).scalar_one()
                conn.execute(insert(DraftBody).values(**{**body, "draft_id": did}))
                conn.execute(insert(DraftEvent).values(
                    draft_id=did, pmid=d["pmid"], at=d["created_at"], actor="scanner",
                    action="created", from_version=None, to_version=1, from_state=None,
                    to_state="pending", detail={}))
            n += len(batch_d)
    db.dispose()


def server_ms(client: httpx.Client, path: str) -> float:
    r = client.get(path)
    r.raise_for_status()
    return float(re.search(r"dur=([\d.]+)", r.headers["server-timing"]).group(1))  # type: ignore[union-attr]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = build_demo(directory)
        t0 = time.perf_counter()
        replicate(url, args.drafts)
        print(f"built {args.drafts} drafts in {time.perf_counter() - t0:.1f} s")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
        env["SCANNER_EUTILS_URL"] = "http://127.0.0.1:9/"
        proc = subprocess.Popen([sys.executable, "-m", "scanner", "--config",
                                 str(directory / "config.toml"), "serve", "--port", str(port)],
                                cwd=REPO, env=env)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        page = client.get("/login")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
                token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
                # The cookies are Secure: browsers send them to http://127.0.0.1, httpx
                # does not, so they are passed by hand.
                r = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                                "login_token": token, "next": "/"},
                                headers={"Cookie": "scanner_login="
                                         + page.cookies["scanner_login"]})
                client.headers["Cookie"] = f"scanner_session={r.cookies['scanner_session']}"
                pmids = [m for m in re.findall(r'href="/papers/(\d+)"', client.get("/").text)]
                rng = random.Random(1)
                cases: dict[str, Any] = {
                    "sign-in page (baseline)": lambda: "/login",
                    "queue, first page": lambda: "/",
                    "queue, page 150": lambda: "/?page=150",
                    "queue, PEM filter": lambda: "/?pem=required&page=3",
                    "queue, title search": lambda: "/?q=fatigue&state=all",
                    "draft page": lambda: f"/papers/{rng.choice(pmids)}",
                }
                for make in cases.values():      # warm up
                    server_ms(client, make())
                results = {}
                for name, make in cases.items():
                    times = [server_ms(client, make()) for _ in range(args.requests)]
                    results[name] = (statistics.median(times),
                                     statistics.quantiles(times, n=20)[-1])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    base_ms = results["sign-in page (baseline)"][0]
    print(f"\n{args.drafts} drafts, SQLite, {args.requests} requests each; server time "
          "from Server-Timing (ms)")
    print(f"{'page':<28}{'median':>9}{'p95':>9}{'x baseline':>12}")
    for name, (median, p95) in results.items():
        print(f"{name:<28}{median:>9.2f}{p95:>9.2f}{median / base_ms:>12.2f}")


if __name__ == "__main__":
    main()
