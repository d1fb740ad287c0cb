"""``scanner up``: the scheduled scanner and the web app together, for a small deployment.

Two children in this process's group, on one configured database: ``scanner daemon``
(the scheduled scans and sweeps, with its lease: a second ``up`` on the same database
serves the web app and keeps its daemon as a standby) and ``scanner serve`` (the
curators' pages and the public pages, one FastAPI app). The database is opened and its
schema created or upgraded here first, so a new SQLite store is made once, before either
child starts, with the journal mode :mod:`scanner.store.journal` chose.

SIGTERM or SIGINT is passed on to both children, which stop cleanly (the daemon at its
next batch boundary, releasing its leases; uvicorn after its requests in hand); ``up``
exits 0 when both did. A child that exits on its own (a port in use, a lost lease) stops
the other, and ``up`` exits with that child's status, so a service manager restarts it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ScannerError
from ..logs import kv
from ..store.db import Database

log = logging.getLogger(__name__)

#: How long a child may take to stop after SIGTERM beyond the daemon's own stop timeout.
STOP_MARGIN_S = 10.0


class UpChildFailed(ScannerError):
    """A child of ``scanner up`` exited on its own."""

    exit_code = 1


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


def child_command(config_path: str | None, log_level: str, *args: str) -> list[str]:
    cmd = [sys.executable, "-m", "scanner"]
    if config_path:
        cmd += ["--config", config_path]
    return [*cmd, "--log-level", log_level, *args]


class Up:
    def __init__(self, settings: Settings, db: Database, *, config_path: str | None,
                 host: str, port: int, interval: float | None, log_level: str,
                 echo: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.db = db
        self.config_path = config_path
        self.host = host
        self.port = port
        self.interval = interval
        self.log_level = log_level
        self.echo = echo
        self.stop = threading.Event()
        self.signal_name: str | None = None
        self.children: list[Child] = []

    def commands(self) -> dict[str, list[str]]:
        daemon = ["daemon"] + (["--interval", f"{self.interval:g}"] if self.interval else [])
        return {
            "daemon": child_command(self.config_path, self.log_level, *daemon),
            "web": child_command(self.config_path, self.log_level, "serve", "--host",
                                 self.host, "--port", str(self.port)),
        }

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name
        self.stop.set()

    def run(self) -> None:
        """Start both children; return after a clean stop, raise if a child failed."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        info = self.db.engine_info()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, cmd in self.commands().items():
            # our own console entry point and arguments, no shell
            self.children.append(Child(name, subprocess.Popen(cmd, env=env)))  # noqa: S603
        shown = self.host if ":" not in self.host else f"[{self.host}]"
        self.echo(f"scanner up: web app http://{shown}:{self.port}/ (pid "
                  f"{self.children[1].proc.pid}), daemon pid {self.children[0].proc.pid}, "
                  f"database {self.db.display_url} ({_storage(info)}); SIGTERM stops both")
        log.info(kv("up_start", database=self.db.display_url,
                    **{c.name: c.proc.pid for c in self.children}))
        failed: Child | None = None
        while not self.stop.wait(0.2):
            failed = next((c for c in self.children if c.proc.poll() is not None), None)
            if failed is not None:
                break
        reason = (f"signal {self.signal_name}" if failed is None
                  else f"{failed.name} exited {failed.proc.returncode}")
        log.info(kv("up_stopping", reason=reason))
        codes = self._stop_children()
        log.info(kv("up_stopped", **codes))
        if failed is not None:
            raise UpChildFailed(f"scanner up: the {failed.name} process exited with status "
                                f"{failed.proc.returncode}; stopped the other")
        # uvicorn re-raises the SIGTERM it handled once its shutdown is complete
        clean = {"daemon": (0,), "web": (0, -signal.SIGTERM)}
        bad = {name: code for name, code in codes.items() if code not in clean[name]}
        if bad:
            raise UpChildFailed("scanner up: not stopped cleanly: " + ", ".join(
                f"{name} exited {code}" for name, code in bad.items()))

    def _stop_children(self) -> dict[str, int]:
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = (time.monotonic() + self.settings.schedule.stop_timeout_seconds
                    + STOP_MARGIN_S)
        codes: dict[str, int] = {}
        for child in self.children:
            try:
                codes[child.name] = child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(kv("up_child_killed", child=child.name, pid=child.proc.pid))
                child.proc.kill()
                codes[child.name] = child.proc.wait()
        return codes


def _storage(info: dict[str, Any]) -> str:
    if info.get("dialect") != "sqlite":
        return str(info.get("dialect"))
    return f"SQLite {info['sqlite_version']}, journal {info['journal_mode']}"
