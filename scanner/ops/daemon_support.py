"""Small pieces of ``scanner daemon``: its errors, a stoppable classifier, a SQLite check."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence

from classifiers.paper import Paper
from classifiers.result import ClassificationResult

from ..errors import ScannerError
from ..ingest.scan import Classifier, ScanStopped
from ..logs import kv

log = logging.getLogger(__name__)

#: Name prefixes of the thread-pool workers that ``concurrent.futures`` joins at exit.
POOL_THREADS = ("ThreadPoolExecutor", "efetch")


class DaemonLeaseHeld(ScannerError):
    """Another daemon is active on this database and we were told not to wait."""

    exit_code = 6


class DaemonLeaseLost(ScannerError):
    """Another daemon took the lease over (ours expired): this one stopped."""

    exit_code = 3


class StoppableClassifier:
    """The policy's classifier, refusing new work once a stop is requested."""

    def __init__(self, inner: Classifier, stop: threading.Event) -> None:
        self.inner = inner
        self.stop = stop

    def classify(self, papers: Sequence[Paper]) -> list[ClassificationResult]:
        if self.stop.is_set():
            raise ScanStopped("stop requested: classification left for the next run")
        return self.inner.classify(papers)


def sqlite_has_wal_race(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> bool:
    """SQLite 3.7.0 to 3.51.2 can corrupt a WAL database written by two processes."""
    fixed = version >= (3, 51, 3) or (3, 50, 7) <= version < (3, 51, 0) or (
        3, 44, 6) <= version < (3, 45, 0)
    return version >= (3, 7, 0) and not fixed


def leave_stragglers(deadline: float, error: ScannerError | None, *, hard_exit: bool) -> None:
    """Wait for worker threads (a fetch still in flight) until ``deadline``, no longer.

    Called when everything is committed and released: a thread still waiting on PubMed
    holds nothing, so with ``hard_exit`` the process ends without it (status 0, or the
    exit code of ``error`` after printing it as the CLI would).
    """
    me = threading.current_thread()
    # Pool workers (APScheduler's, the scan's prefetch) are joined at interpreter exit
    # even when they are daemon threads, as are non-daemon threads.
    workers = [t for t in threading.enumerate()
               if t is not me and t is not threading.main_thread()
               and (not t.daemon or t.name.startswith(POOL_THREADS))]
    for thread in workers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in workers if t.is_alive()]
    if not stuck or not hard_exit:
        return
    log.warning(kv("daemon_exit_without", threads=",".join(stuck),
                   reason="still waiting on PubMed at the stop deadline"))
    if error is not None:
        sys.stderr.write(f"scanner: error: {error}\n")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(error.exit_code if error is not None else 0)
