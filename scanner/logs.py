"""Plain, structured logging: one line per event, ``key=value`` pairs, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never let ``value`` (an API key) appear in any log line."""
    if value:
        _SECRETS.add(value)


#: ``api_key=...``, ``"api-key": "..."`` and the like: how a server echoes a key back.
#: The same pattern scrubs stored rows in migration 0007.
API_KEY_PATTERN = re.compile(
    r"""(?i)(api[-_ ]?key["']?\s*[:=]\s*["']?)([^"'\s,;&}<>]+)""")


def redact(text: str) -> str:
    """``text`` with every registered secret, and any value labelled as an API key, replaced
    by ``***``: applied to every error string before it is printed, logged or stored."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return API_KEY_PATTERN.sub(r"\1***", text)


def _fmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def kv(event: str, **fields: Any) -> str:
    """Render an event and its fields as ``event key=value ...``."""
    parts = [event] + [f"{k}={_fmt_value(v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once: ISO time, level, logger, message; secrets redacted."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_scanner", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._scanner = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(
        "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full request URLs at INFO; keep it quiet.
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
