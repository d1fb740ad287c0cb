"""The embedded default under two writer processes: one SQLite file, written for a
sustained period by two processes at once (as the daemon and the web app do), stays
intact (``PRAGMA integrity_check``) and loses no committed write."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from scanner.store.db import open_database
from scanner.store.journal import choose_journal, sqlite_has_wal_race
from tests.conftest import REPO

SECONDS = float(os.environ.get("SCANNER_SQLITE_SUSTAINED_SECONDS", "20"))

WRITER = """
import json, random, sys, time
from sqlalchemy import text
from scanner.store import leases, runs
from scanner.store.db import open_database
url, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
db = open_database(url)
rng = random.Random(name)
deadline = time.monotonic() + seconds
first = last_commit = None
inserted = updates = reads = 0
owner = leases.make_owner()
import datetime as dt
while time.monotonic() < deadline:
    with db.write() as conn:          # a read-then-write transaction, as the stores do
        last = conn.execute(text("SELECT max(n) FROM churn WHERE writer = :w"),
                            {"w": name}).scalar() or 0
        conn.execute(text("INSERT INTO churn (writer, n, payload) VALUES (:w, :n, :p)"),
                     {"w": name, "n": last + 1, "p": rng.randbytes(rng.randrange(200, 6000))})
        inserted += 1
        if last > 20:
            conn.execute(text("UPDATE churn SET payload = :p WHERE writer = :w AND n = :n"),
                         {"p": rng.randbytes(rng.randrange(200, 9000)), "w": name,
                          "n": rng.randrange(1, last)})
            updates += 1
        runs.advance_watermark(conn, name, dt.date(2000, 1, 1) + dt.timedelta(days=inserted),
                               None)
    last_commit = time.time()
    first = first or last_commit
    leases.acquire(db, "sustained-" + name, owner, dt.timedelta(seconds=30))
    with db.read() as conn:
        reads += conn.execute(text("SELECT count(*) FROM churn")).scalar() > 0
print(json.dumps({"inserted": inserted, "updates": updates, "reads": reads,
                  "mode": db.engine_info()["journal_mode"], "first": first,
                  "last": last_commit}))
"""


def test_two_writer_processes_for_a_sustained_period_keep_the_file_intact(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    db = open_database(url)
    info = db.engine_info()
    assert info["sqlite_version"] == sqlite3.sqlite_version
    assert info["journal_mode"] == choose_journal().journal_mode
    assert info["journal_mode"] == ("truncate" if sqlite_has_wal_race() else "wal")
    assert info["safe_for_two_writers"] is True
    with db.write() as conn:
        conn.execute(text("CREATE TABLE churn (id INTEGER PRIMARY KEY, writer TEXT, "
                          "n INTEGER, payload BLOB, UNIQUE (writer, n))"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(SECONDS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for name in ("daemon", "webapp")]
    results = {}
    for name, proc in zip(("daemon", "webapp"), procs, strict=True):
        out, err = proc.communicate(timeout=SECONDS + 120)
        assert proc.returncode == 0, err[-3000:]
        results[name] = json.loads(out.strip().splitlines()[-1])
    con = sqlite3.connect(tmp_path / "shared.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for name, got in results.items():
            assert got["mode"] == info["journal_mode"]
            assert got["inserted"] >= 10, results
            n, top = con.execute("SELECT count(*), max(n) FROM churn WHERE writer = ?",
                                 (name,)).fetchone()
            assert n == top == got["inserted"]  # every committed insert is there, once
    finally:
        con.close()
    # both wrote throughout the same period, not one after the other
    assert max(r["first"] for r in results.values()) < min(r["last"] for r in results.values())
    print(f"{SECONDS:g} s, journal {info['journal_mode']}: {results}")


def test_sign_in_checks_the_password_without_holding_the_write_lock(
        tmp_path: Path, monkeypatch: Any) -> None:
    """Found by benchmarks/load.py: argon2 ran inside ``BEGIN IMMEDIATE``, so 20 curators
    signing in at once queued every writer (scans, saves) behind password hashing until
    SQLite's busy timeout ran out (a 500). The check now holds no write lock."""
    from scanner.store import users

    path = tmp_path / "signin.sqlite"
    db = open_database(f"sqlite:///{path}")
    with db.write() as conn:
        users.add_user(conn, "ann", "a long password", "curator")
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    free: list[bool] = []
    real = users._hasher

    class Probing:
        def verify(self, *args: Any) -> Any:
            try:
                probe.execute("BEGIN IMMEDIATE")  # fails at once while a writer holds it
                probe.execute("ROLLBACK")
                free.append(True)
            except sqlite3.OperationalError:
                free.append(False)
            return real.verify(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(users, "_hasher", Probing())
    signed = users.sign_in(db, "ann", "a long password", 1.0)
    assert signed is not None and signed[0].username == "ann" and signed[1] and signed[2]
    assert users.sign_in(db, "ann", "wrong password", 1.0) is None
    assert free == [True, True]
    probe.close()
