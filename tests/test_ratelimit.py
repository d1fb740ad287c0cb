from __future__ import annotations

import threading
import time

from scanner.pubmed.ratelimit import RateLimiter, shared_limiter


def max_in_window(stamps: list[float], width: float = 1.0) -> int:
    stamps = sorted(stamps)
    best = 0
    j = 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_spacing_under_eight_threads() -> None:
    limiter = RateLimiter(10)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 32
    assert max_in_window(stamps) <= 10
    gaps = [b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:], strict=False)]
    assert min(gaps) >= 0.1 * 0.98


def test_zero_means_unlimited() -> None:
    limiter = RateLimiter(0)
    start = time.monotonic()
    for _ in range(1000):
        limiter.acquire()
    assert time.monotonic() - start < 0.5


def test_shared_limiter_is_process_wide() -> None:
    assert shared_limiter("h:1", 3.0) is shared_limiter("h:1", 3.0)
    assert shared_limiter("h:1", 3.0) is not shared_limiter("h:2", 3.0)
