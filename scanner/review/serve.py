"""Run the review app under uvicorn (``scanner serve`` and the end of ``scanner demo``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from classifiers.policy import Policy

from ..config import Settings
from ..store.db import Database
from .app import create_app

log = logging.getLogger(__name__)


def serve(settings: Settings, db: Database, policy: Policy, *, host: str, port: int,
          echo: Callable[[str], None] = print) -> None:
    app = create_app(settings, db, policy)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            access_log=False, proxy_headers=False, server_header=False)
    server = uvicorn.Server(config)
    shown = host if ":" not in host else f"[{host}]"
    echo(f"review app: http://{shown}:{port}/  (Ctrl-C to stop)")
    server.run()
