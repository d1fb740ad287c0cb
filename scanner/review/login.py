"""Signing in: Argon2 outside every transaction, on a small pool, behind a throttle.

A sign-in reads the account (a read transaction), verifies the password on
:data:`_VERIFY_POOL` (one thread: Argon2id already hashes on four lanes, and a flood of
wrong passwords queues there instead of taking the server's request threads, its CPU or
the database's write lock), and only on success opens a write transaction to start the
session.

Failed attempts are counted per account and per client address in this process's
memory (:class:`LoginThrottle`). In memory, not in a table, on purpose: recording each
wrong password in the database would take the write lock once per attempt, which is the
contention this module removes; ``scanner serve`` is one process, and a restart forgets
the counts, which an attacker cannot cause without operator access. An attempt counts
from the moment it starts, so 150 concurrent wrong passwords are refused after the limit
is reached instead of all being hashed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Request

from ..errors import ReviewError
from ..logs import kv
from ..store import users

log = logging.getLogger(__name__)

_VERIFY_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")
#: Per address, this many times the per-account limit (curators may share one NAT).
ADDRESS_FACTOR = 5


class TooManyAttempts(ReviewError):
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginThrottle:
    """Failed (and in-flight) sign-ins per key within a sliding window."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._attempts.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def begin(self, account: str, address: str) -> None:
        """Count an attempt, or raise TooManyAttempts when either key is over its limit."""
        now = time.monotonic()
        keys = {f"user:{account.lower()}": self.limit,
                f"addr:{address}": self.limit * ADDRESS_FACTOR}
        with self._lock:
            for key, limit in keys.items():
                q = self._recent(key, now)
                if len(q) >= limit:
                    wait = int(q[0] + self.window_s - now) + 1
                    what = "this account" if key.startswith("user:") else "this address"
                    log.warning(kv("login_throttled", key=key, attempts=len(q),
                                   retry_after_s=wait))
                    raise TooManyAttempts(
                        f"too many failed sign-ins for {what}; try again in "
                        f"{-(-wait // 60)} minute(s)", retry_after=wait)
            for key in keys:
                self._attempts[key].append(now)

    def succeeded(self, account: str, address: str) -> None:
        """A right password clears the account's count and takes back its own attempt
        from the address's."""
        with self._lock:
            self._attempts.pop(f"user:{account.lower()}", None)
            q = self._attempts.get(f"addr:{address}")
            if q:
                q.pop()


def throttle_for(request: Request) -> LoginThrottle:
    state = request.app.state
    if getattr(state, "login_throttle", None) is None:
        review = state.settings.review
        state.login_throttle = LoginThrottle(review.login_attempts,
                                             review.login_window_minutes * 60)
    throttle: LoginThrottle = state.login_throttle
    return throttle


def _check(request: Request, username: str, password: str) -> Any:
    review = request.app.state.settings.review
    return users.sign_in(request.app.state.db, username, password, review.session_hours,
                         review.idle_minutes)


async def sign_in(request: Request, username: str, password: str) -> Any:
    """(user row, session token, CSRF token), or None for a wrong username or password;
    TooManyAttempts when throttled."""
    address = request.client.host if request.client else "unknown"
    throttle = throttle_for(request)
    throttle.begin(username, address)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(_VERIFY_POOL, _check, request, username, password)
    if result is None:
        log.info(kv("login_failed", username=username[:80], address=address))
        return None
    throttle.succeeded(username, address)
    return result
