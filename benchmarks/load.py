"""Benchmark: 50 signed-in curators at once against the review app while a scan runs.

For each database (SQLite, the embedded default, and PostgreSQL): a store built by the
demo pipeline and replicated to ``--drafts`` drafts, 50 curator accounts, ``scanner
serve`` in its own process, and meanwhile ``scanner scan`` processes one after another
(a backfill of a synthetic corpus from the replay server, rate limit lifted, so the scan
writes batches throughout). Locust (headless, as a child process) runs 50 users who
sign in and loop over the queue, a draft page, a save, an approval and an export
(benchmarks/load_locustfile.py) for ``--seconds``.

Reported: requests/s and p50/p95 per kind of request (Locust's figures). Checked: no 5xx
and no unexpected status; every save answered 303 is in the store (its ``edited``
audit event with that curator and marker, exactly once), every refused save and
approval was a 409; each draft's summary is its last accepted save's marker, unless an
approval or nothing came later; ``PRAGMA integrity_check`` on SQLite. Exits 1 on any
failed check. Usage::

    .venv/bin/python benchmarks/load.py [--seconds 180] [--users 50] [--drafts 300]
        [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from backfill import synthetic_corpus  # noqa: E402
from review import replicate  # noqa: E402

from scanner.replay import ReplayServer  # noqa: E402
from scanner.store import users  # noqa: E402
from scanner.store.db import open_database  # noqa: E402
from scanner.store.models import Draft, DraftBody, DraftEvent, Record  # noqa: E402
from tests.conftest import POSTGRES_URL  # noqa: E402
from tests.daemon_support import FAST_POLICY  # noqa: E402
from tests.review_helpers import PASSWORD, build_demo  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, db_url: str, eutils_url: str, policy_dir: Path,
                 policy: str) -> Path:
    path.write_text(f'[database]\nurl = "{db_url}"\n'
                    f'[policy]\ndir = "{policy_dir}"\nactive = "{policy}"\n'
                    f'[eutils]\nbase_url = "{eutils_url}"\nrequests_per_second = 0\n'
                    'email = "load@example.org"\nbatch_size = 200\n'
                    "[review]\nsecure_cookies = false\n")
    return path


class Scans(threading.Thread):
    """``scanner scan`` processes one after another until stopped; their outcomes."""

    def __init__(self, cfg: Path, env: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.cfg, self.env = cfg, env
        self.halt = threading.Event()
        self.outcomes: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def run(self) -> None:
        while not self.halt.is_set():
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scanner", "--config", str(self.cfg), "scan", "--since",
                 "1950-01-01"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            out, err = self.proc.communicate()
            if self.halt.is_set() and self.proc.returncode != 0:
                break
            self.outcomes.append(out.strip() if self.proc.returncode == 0
                                 else f"FAILED {self.proc.returncode}: {err.strip()[-300:]}")

    def stop(self) -> None:
        self.halt.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self.join(timeout=60)


def prepare(backend: str, work: Path, drafts: int, n_users: int) -> tuple[str, Any]:
    cleanup: Any = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'load.sqlite'}"
    else:
        schema = f"load_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"

        def cleanup() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    build_demo(work, url)
    replicate(url, drafts)
    db = open_database(url)
    with db.write() as conn:
        for i in range(1, n_users + 1):
            users.add_user(conn, f"curator{i:02d}", PASSWORD, "curator")
    db.dispose()
    return url, cleanup


def locust_stats(prefix: Path) -> list[dict[str, str]]:
    with (prefix.parent / (prefix.name + "_stats.csv")).open() as f:
        return list(csv.DictReader(f))


def verify(url: str, ledger: dict[str, Any], backend: str) -> list[str]:
    problems: list[str] = []
    for key, n in sorted(ledger["statuses"].items()):
        name, status = key.rsplit(" ", 1)
        code = int(status)
        allowed = {"sign in": {303}, "save": {303, 409}, "approve": {303, 409}}.get(
            name, {200})
        if code >= 500 or code not in allowed:
            problems.append(f"{n} x {name} answered {code}")
    db = open_database(url)
    with db.read() as conn:
        events = conn.execute(select(DraftEvent.pmid, DraftEvent.actor, DraftEvent.action,
                                     DraftEvent.detail, DraftEvent.to_version)
                              .where(DraftEvent.actor.like("curator%"))).all()
        summaries = dict(conn.execute(select(Draft.pmid, DraftBody.fields).join(
            DraftBody, DraftBody.draft_id == Draft.id)).all())
    edits: dict[tuple[str, str, str], int] = {}
    last_edit: dict[str, tuple[int, str]] = {}
    last_any: dict[str, int] = {}
    for e in events:
        last_any[e.pmid] = max(last_any.get(e.pmid, 0), e.to_version)
        new = ((e.detail or {}).get("changes") or {}).get("summary", {}).get("new")
        if e.action == "edited" and new:
            edits[(e.pmid, e.actor, new)] = edits.get((e.pmid, e.actor, new), 0) + 1
            if e.to_version > last_edit.get(e.pmid, (0, ""))[0]:
                last_edit[e.pmid] = (e.to_version, new)
    accepted = [s for s in ledger["saves"] if s["status"] == 303]
    refused = [s for s in ledger["saves"] if s["status"] != 303]
    for s in accepted:
        n = edits.get((s["pmid"], s["user"], s["marker"]), 0)
        if n != 1:
            problems.append(f"accepted save {s['marker']!r} on {s['pmid']} stored {n} times")
    for s in refused + ledger["approvals"]:
        if s["status"] not in (303, 409):
            problems.append(f"{s['pmid']} by {s['user']}: {s['status']}")
    markers = {s["marker"] for s in refused}
    leaked = [k for k in edits if k[2] in markers]
    if leaked:
        problems.append(f"{len(leaked)} refused saves are in the store")
    for pmid, (_v, marker) in last_edit.items():
        if (summaries[pmid] or {}).get("summary") != marker:
            problems.append(f"{pmid}: summary is not its last accepted save")
    if backend == "sqlite":
        with db.read() as conn:
            check = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
        if check != "ok":
            problems.append(f"integrity_check: {check}")
    with db.read() as conn:
        stored = conn.execute(select(Record.pmid)).all()
    db.dispose()
    print(f"  saves: {len(accepted)} accepted (all stored once: "
          f"{all(edits.get((s['pmid'], s['user'], s['marker'])) == 1 for s in accepted)}), "
          f"{len(refused)} refused with 409; approvals: "
          f"{sum(a['status'] == 303 for a in ledger['approvals'])} accepted, "
          f"{sum(a['status'] == 409 for a in ledger['approvals'])} refused; "
          f"{len(stored)} records stored")
    return problems


def run_backend(backend: str, args: argparse.Namespace, server: ReplayServer) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        url, cleanup = prepare(backend, work, args.drafts, args.users)
        print(f"{backend}: store with {args.drafts} drafts and {args.users} curators built "
              f"in {time.perf_counter() - t0:.0f} s")
        try:
            policies = work / "policies"
            policies.mkdir()
            (policies / "t0.toml").write_text(FAST_POLICY)
            web_cfg = write_config(work / "web.toml", url, server.base_url,
                                   REPO / "policies", "v0.1")
            scan_cfg = write_config(work / "scan.toml", url, server.base_url, policies, "t0")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SCANNER_", "NCBI_"))}
            env["PYTHONPATH"] = str(REPO)
            port = free_port()
            web = subprocess.Popen([sys.executable, "-m", "scanner", "--config", str(web_cfg),
                                    "serve", "--port", str(port)], env=env)
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("the web app did not start")
                time.sleep(0.3)
            db = open_database(url)
            with db.read() as conn:
                pmids = [p for p in conn.execute(select(Draft.pmid)).scalars()]
            db.dispose()
            (work / "pmids.txt").write_text("\n".join(pmids))
            scans = Scans(scan_cfg, env)
            scans.start()
            prefix = work / "locust"
            ledger_path = work / "ledger.json"
            lenv = {**env, "LOAD_PMIDS": str(work / "pmids.txt"), "LOAD_PASSWORD": PASSWORD,
                    "LOAD_LEDGER": str(ledger_path)}
            began = time.perf_counter()
            loc = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(REPO / "benchmarks" /
                                                          "load_locustfile.py"),
                 "--headless", "--users", str(args.users), "--spawn-rate", str(args.users),
                 "--run-time", f"{args.seconds}s", "--host", f"http://127.0.0.1:{port}",
                 "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
                 "--exit-code-on-error", "0"], env=lenv, capture_output=True, text=True,
                timeout=args.seconds + 300)
            elapsed = time.perf_counter() - began
            scans.stop()
            web.terminate()
            web.wait(timeout=60)
            if loc.returncode != 0 or not ledger_path.exists():
                raise SystemExit(f"locust failed ({loc.returncode}):\n{loc.stderr[-3000:]}")
            print(f"  {args.users} users for {args.seconds} s (locust ran {elapsed:.0f} s); "
                  f"scans during the run: {len(scans.outcomes)} finished")
            for outcome in scans.outcomes:
                print(f"    {outcome[:160]}")
            print(f"  {'request':<14} {'count':>7} {'fail':>5} {'req/s':>7} {'p50 ms':>7} "
                  f"{'p95 ms':>7} {'max ms':>7}")
            for row in locust_stats(prefix):
                print(f"  {row['Name']:<14} {row['Request Count']:>7} "
                      f"{row['Failure Count']:>5} {float(row['Requests/s']):>7.1f} "
                      f"{row['50%']:>7} {row['95%']:>7} "
                      f"{float(row['Max Response Time']):>7.0f}")
            ledger = json.loads(ledger_path.read_text())
            problems = verify(url, ledger, backend)
            problems += [o for o in scans.outcomes if o.startswith("FAILED")]
            return [f"{backend}: {p}" for p in problems]
        finally:
            if cleanup is not None:
                cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--drafts", type=int, default=300)
    ap.add_argument("--records", type=int, default=5000, help="synthetic corpus the scan reads")
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    corpus, _ = synthetic_corpus(args.records)
    problems: list[str] = []
    with ReplayServer(corpus) as server:
        for backend in args.backends.split(","):
            problems += run_backend(backend.strip(), args, server)
    if problems:
        print("FAILED:\n" + "\n".join(problems[:50]))
        raise SystemExit(1)
    print("all checks passed: no 5xx, every accepted save stored once, every refusal a 409")


if __name__ == "__main__":
    main()
