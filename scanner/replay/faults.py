"""Planned faults: misbehaviour the replay server shows on chosen requests.

A test plans faults with :meth:`FaultPlan.add`; each planned fault is consumed by
the next request(s) it matches (first planned, first served), ``times`` requests
in all. What each kind does on the wire is implemented in
:mod:`scanner.replay.server`; this module only validates and hands them out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULT_KINDS", "FaultPlan", "PlannedFault", "endpoint_name"]

#: Every fault kind, with the options it requires.
FAULT_KINDS: dict[str, tuple[str, ...]] = {
    "status": ("status",),      # HTTP error status (429 JSON body, 5xx HTML page)
    "error_200": (),            # HTTP 200 with an <ERROR> body
    "html": (),                 # HTTP 200 HTML maintenance page
    "text": (),                 # HTTP 200 text/plain "Unable to route request!"
    "json_error": (),           # HTTP 200 application/json {"error": ...}
    "empty": (),                # HTTP 200, Content-Length: 0
    "truncated": (),            # HTTP 200, body cut short, Content-Length of the cut body
    "drop": (),                 # full Content-Length, part of the body, then close
    "reset": (),                # close the connection (TCP RST) without answering
    "hang": (),                 # sleep (default 30 s, aborted by stop()) then answer
    "delay": ("seconds",),      # sleep, then answer normally
    "missing": (),              # efetch omits some records of the batch
    "raw": ("body",),           # serve given bytes/status/content type verbatim
}

#: Kinds that only make sense for one endpoint, used when none is given.
_DEFAULT_ENDPOINT = {"missing": "efetch"}


def endpoint_name(name: str) -> str:
    """Normalize an endpoint: ``"/entrez/eutils/esearch.fcgi"`` -> ``"esearch"``."""
    last = name.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".fcgi", ".cgi"):
        if last.endswith(suffix):
            last = last[: -len(suffix)]
    return last.lower()


@dataclass
class PlannedFault:
    """One planned fault; ``remaining`` counts the requests it still applies to."""

    kind: str
    endpoint: str | None
    remaining: int
    opts: dict[str, Any] = field(default_factory=dict)

    def matches(self, endpoint: str) -> bool:
        """Whether a request to ``endpoint`` (normalized name) triggers this fault."""
        return self.endpoint is None or self.endpoint == endpoint


class FaultPlan:
    """A thread-safe FIFO of :class:`PlannedFault` objects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[PlannedFault] = []

    def add(self, kind: str, *, endpoint: str | None = None, times: int = 1,
            **opts: Any) -> PlannedFault:
        """Plan ``kind`` for the next ``times`` requests to ``endpoint`` (any if None).

        Raises ``ValueError`` for an unknown kind, a missing required option or
        ``times`` < 1. Returns the planned fault (its ``remaining`` counts down).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        missing = [name for name in FAULT_KINDS[kind] if name not in opts]
        if missing:
            raise ValueError(f"fault {kind!r} needs option(s): {', '.join(missing)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if kind == "status" and not 400 <= int(opts["status"]) <= 599:
            raise ValueError("a 'status' fault needs a 4xx or 5xx status")
        if kind == "raw" and isinstance(opts["body"], str):
            opts["body"] = opts["body"].encode("utf-8")
        fraction = opts.get("fraction")
        if fraction is not None and not 0.0 <= float(fraction) < 1.0:
            raise ValueError("fraction must be in [0, 1)")
        target = endpoint_name(endpoint) if endpoint else _DEFAULT_ENDPOINT.get(kind)
        fault = PlannedFault(kind, target, times, dict(opts))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, endpoint: str) -> PlannedFault | None:
        """Consume one use of the first fault matching ``endpoint``, if any."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(endpoint):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    return fault
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[PlannedFault]:
        """A snapshot of the faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
