"""Helpers for the daemon and sweep tests: upstream edits, real daemon processes, polling."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from lxml import etree

from tests.conftest import REPO

T = TypeVar("T")

SCANNER = Path(sys.executable).parent / "scanner"  # the console script of this venv

#: A policy with the v0.1 query and no trained model: a daemon running it stores records
#: without loading the classifier (seconds instead of tens of seconds per process).
FAST_POLICY = """id = "daemon-tests"
version = "t0"
description = "The PubMed query only: records are stored, not classified."

[search]
query = '("Fatigue Syndrome, Chronic"[Mesh] OR "chronic fatigue syndrome"[tiab])'
"""


def until(predicate: Callable[[], T], timeout: float, what: str,
          on_fail: Callable[[], str] | None = None, every: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{on_fail()}" if on_fail else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(every)


# -- upstream edits ---------------------------------------------------------------------------
def with_publication_type(xml: bytes, name: str, ui: str = "D016441") -> bytes:
    changed = xml.replace(b"</PublicationTypeList>",
                          f'<PublicationType UI="{ui}">{name}</PublicationType>'
                          "</PublicationTypeList>".encode())
    assert changed != xml
    return changed


def with_notice(xml: bytes, ref_type: str, notice_pmid: str) -> bytes:
    """Link a notice (ErratumIn, ExpressionOfConcernIn, RetractionIn) to a record."""
    entry = (f'<CommentsCorrections RefType="{ref_type}"><RefSource>Notice. 2026</RefSource>'
             f'<PMID Version="1">{notice_pmid}</PMID></CommentsCorrections>').encode()
    if b"<CommentsCorrectionsList>" in xml:
        return xml.replace(b"<CommentsCorrectionsList>", b"<CommentsCorrectionsList>" + entry,
                           1)
    return xml.replace(b"</MedlineCitation>",
                       b"<CommentsCorrectionsList>" + entry + b"</CommentsCorrectionsList>"
                       b"</MedlineCitation>", 1)


def dated_copy(xml: bytes, pmid: str, created: dt.date) -> bytes:
    """The same paper as a new record ``pmid`` created (CRDT) on ``created``."""
    root = etree.fromstring(xml)
    node = root.find("MedlineCitation/PMID")
    assert node is not None
    node.text = pmid
    for aid in root.iterfind("PubmedData/ArticleIdList/ArticleId"):
        if aid.get("IdType") == "pubmed":
            aid.text = pmid
    dates = [d for d in root.iterfind("PubmedData/History/PubMedPubDate")
             if d.get("PubStatus") == "entrez"]
    assert dates, "the source record has no create date"
    for tag, value in (("Year", created.year), ("Month", created.month),
                       ("Day", created.day)):
        part = dates[0].find(tag)
        assert part is not None
        part.text = str(value)
    return etree.tostring(root, encoding="UTF-8")


# -- configuration and processes --------------------------------------------------------------
def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str | Path) else repr(value)


def write_config(tmp_path: Path, *, policy: str = "t0", extra: str = "") -> Path:
    """A config for daemon processes: fast retries, a short lease, no extra retry runs.

    ``policy`` "t0" is :data:`FAST_POLICY` (no classifier); "v0.1" is the real one.
    """
    if policy == "t0":
        policy_dir = tmp_path / "policies"
        policy_dir.mkdir(exist_ok=True)
        (policy_dir / "t0.toml").write_text(FAST_POLICY)
    else:
        policy_dir = REPO / "policies"
    data: dict[str, dict[str, Any]] = {
        "policy": {"dir": str(policy_dir), "active": policy},
        "eutils": {"requests_per_second": 0, "backoff_base": 0.01, "backoff_max": 0.05,
                   "batch_size": 20, "read_timeout": 5.0, "connect_timeout": 2.0,
                   "max_attempts": 3},
        "schedule": {"lease_ttl_seconds": 3.0, "heartbeat_seconds": 0.3, "retry_seconds": 0},
    }
    for key, table in tomllib.loads(extra).items():
        data.setdefault(key, {}).update(table)
    cfg = tmp_path / f"daemon-{policy}.toml"
    cfg.write_text("".join(f"[{section}]\n" + "".join(
        f"{k} = {_toml(v)}\n" for k, v in table.items()) for section, table in data.items()))
    return cfg


def daemon_env(server: Any, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    env.update(SCANNER_EUTILS_URL=server.base_url, SCANNER_DATABASE_URL=db_url,
               SCANNER_SCAN_START="2006-01-01", PYTHONUNBUFFERED="1")
    return env


class DaemonProcess:
    """``scanner daemon`` as a real process, its log (stderr) in a file."""

    def __init__(self, log_path: Path, cfg: Path, env: dict[str, str], *args: str) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.proc = subprocess.Popen([str(SCANNER), "--config", str(cfg), "daemon", *args],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def owner_prefix(self) -> str:
        """How this process's lease owners (daemon and scans) begin."""
        return f"{socket.gethostname()}:{self.proc.pid}:"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 60) -> None:
        def seen() -> bool:
            if needle in self.log():
                return True
            assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}:\n{self.log()}"
            return False
        until(seen, timeout, f"{needle!r} in the daemon's log", self.log)

    def send(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
