"""``scanner up``: the daemon and the web app as one process group on one database,
against a real local E-utilities server, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanner.store import leases
from scanner.store.db import open_database
from tests.daemon_support import SCANNER, daemon_env, until, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_up_scans_and_serves_then_stops_cleanly_on_sigterm(
        tmp_path: Path, eutils_server: Any, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path / 'new' / 'store.sqlite'}"  # up creates it
        assert not (tmp_path / "new").exists()
    env = daemon_env(eutils_server, db_url)
    cfg = write_config(tmp_path)
    port = free_port()
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([str(SCANNER), "--config", str(cfg), "up", "--port",
                                 str(port), "--interval", "3600"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        def log() -> str:
            return log_path.read_text(errors="replace")

        until(lambda: "scanner up: web app" in log(), 60, "the start line", log)
        kids = children_of(proc.pid)
        assert len(kids) == 2
        assert all(os.getpgid(k) == os.getpgid(proc.pid) for k in kids)
        db = open_database(db_url)

        def web_ok() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        until(web_ok, 60, "the web app's sign-in page", log)
        st = subprocess.run([str(SCANNER), "--config", str(cfg), "status", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
        data = json.loads(st.stdout)
        if db_url.startswith("sqlite"):
            assert data["storage"]["journal_mode"] in ("truncate", "wal")
            assert data["storage"]["safe_for_two_writers"] is True
        until(lambda: json.loads(subprocess.run(
            [str(SCANNER), "--config", str(cfg), "status", "--json"], env=env,
            capture_output=True, text=True, timeout=60).stdout)["records"]["total"] == 354,
            90, "354 stored records", log)
        held = leases.holder(db, "daemon")
        assert held is not None and int(held.owner.split(":")[1]) in kids

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0, log()
        assert not any(alive(k) for k in kids)
        assert leases.holder(db, "daemon") is None and leases.holder(db, "scan") is None
        assert "daemon_stopped" in log()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_up_stops_the_daemon_when_the_web_app_cannot_start(
        tmp_path: Path, eutils_server: Any) -> None:
    db_url = f"sqlite:///{tmp_path / 'busy.sqlite'}"
    env = daemon_env(eutils_server, db_url)
    cfg = write_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([str(SCANNER), "--config", str(cfg), "up", "--port", str(port),
                              "--interval", "3600"], env=env, capture_output=True,
                             text=True, timeout=90)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("scanner: error: scanner up: the web process exited with status")
    db = open_database(db_url)
    assert leases.holder(db, "daemon") is None


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
