"""The History server: result lists stored under a ``WebEnv`` and ``query_key``."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

__all__ = ["HistoryStore"]


class HistoryStore:
    """Thread-safe ``WebEnv`` -> ``query_key`` -> ordered PMID list.

    ``esearch`` with ``usehistory=y`` stores its whole ordered result; ``efetch``
    pages through it. :meth:`expire_all` forgets everything, as when NCBI's
    sessions time out.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, list[tuple[str, ...]]] = {}

    def store(self, pmids: Sequence[str], webenv: str | None = None) -> tuple[str, int]:
        """Store a result list; returns ``(webenv, query_key)``.

        A known ``webenv`` gets the list appended under the next query key (as
        NCBI does when a search names an existing session); otherwise a new
        session is opened.
        """
        with self._lock:
            if webenv is None or webenv not in self._sessions:
                webenv = f"MCID_{secrets.token_hex(12)}"
                self._sessions[webenv] = []
            lists = self._sessions[webenv]
            lists.append(tuple(pmids))
            return webenv, len(lists)

    def get(self, webenv: str, query_key: int | str) -> tuple[str, ...] | None:
        """The stored list, or ``None`` for an unknown/expired session or key."""
        try:
            index = int(str(query_key).strip()) - 1
        except ValueError:
            return None
        with self._lock:
            lists = self._sessions.get(webenv.strip())
            if lists is None or not 0 <= index < len(lists):
                return None
            return lists[index]

    def expire_all(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
