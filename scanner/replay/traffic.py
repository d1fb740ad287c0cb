"""What arrived at the server: the request log and the 1-second rate window."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from scanner.replay.faults import endpoint_name

__all__ = ["RateWindow", "RequestLog", "RequestRecord"]


@dataclass
class RequestRecord:
    """One request as the server saw it.

    ``t`` is ``time.monotonic()`` at arrival (compare it with the client's own
    monotonic clock), ``wall`` is ``time.time()``. ``params`` merges the query
    string and the form body (repeated keys joined with commas). ``status`` is
    the HTTP status sent, ``0`` while the request is still being answered or
    when nothing was sent (``reset``, aborted ``hang``). ``fault`` is the kind of
    the planned fault applied, ``"rate_limit"`` when the server's own limiter
    answered 429, else ``None``.
    """

    t: float
    wall: float
    method: str
    endpoint: str
    params: dict[str, str]
    status: int = 0
    fault: str | None = None


class RequestLog:
    """A thread-safe, append-only list of :class:`RequestRecord`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Log a request (done on arrival; the record is completed later)."""
        with self._lock:
            self._records.append(record)

    def snapshot(self, endpoint: str | None = None) -> list[RequestRecord]:
        """A copy of the log, optionally only one endpoint's requests."""
        with self._lock:
            records = list(self._records)
        if endpoint is None:
            return records
        name = endpoint_name(endpoint)
        return [record for record in records if record.endpoint == name]

    def clear(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self._records.clear()


class RateWindow:
    """Counts arrivals in the last second, like NCBI's per-IP limiter.

    Every arrival counts, including those answered 429, so a client that
    retries at once stays locked out until it pauses.
    """

    def __init__(self, window: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._arrivals: deque[float] = deque()

    def hit(self, now: float | None = None) -> int:
        """Record an arrival; return how many arrived in the window, this one included."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._arrivals.append(now)
            while self._arrivals and self._arrivals[0] <= now - self._window:
                self._arrivals.popleft()
            return len(self._arrivals)

    def reset(self) -> None:
        """Forget all arrivals."""
        with self._lock:
            self._arrivals.clear()
