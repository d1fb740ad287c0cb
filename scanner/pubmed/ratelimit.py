"""A process-wide, thread-safe rate limiter for E-utilities.

NCBI counts requests per second per IP (or per API key). Each call to
:meth:`RateLimiter.acquire` reserves the next free slot under a lock and then sleeps
outside it until that slot, so requests from any number of threads are spaced at least
``interval`` apart, first come first served. The interval carries a small margin so that
scheduling jitter cannot fit ``rate + 1`` requests into one second at NCBI's end.
"""

from __future__ import annotations

import threading
import time

#: Fraction added to the nominal 1/rate spacing.
MARGIN = 0.05


class RateLimiter:
    def __init__(self, rate: float, *, margin: float = MARGIN) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0 (0 means unlimited)")
        self.rate = rate
        self.interval = 0.0 if rate == 0 else (1.0 + margin) / rate
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> float:
        """Block until this caller may send; returns the seconds waited."""
        if self.interval == 0.0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return max(wait, 0.0)


_registry: dict[tuple[str, float], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(host: str, rate: float) -> RateLimiter:
    """The one limiter of this process for requests to ``host`` at ``rate``."""
    key = (host, rate)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(rate)
        return limiter
