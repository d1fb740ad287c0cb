"""The HTTP side: a threaded E-utilities look-alike with fault injection.

:class:`ReplayServer` serves a :class:`~scanner.replay.corpus.Corpus` on
``http://127.0.0.1:<port>/entrez/eutils/`` (any path prefix works; the final
path segment picks the endpoint). It speaks HTTP/1.1 with keep-alive and exact
``Content-Length``, logs every request, and misbehaves on demand
(:attr:`ReplayServer.faults`, :attr:`ReplayServer.delay_all`,
:attr:`ReplayServer.rate_limit`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scanner.replay import endpoints
from scanner.replay import responses as r
from scanner.replay.corpus import Corpus
from scanner.replay.faults import FaultPlan, PlannedFault, endpoint_name
from scanner.replay.history import HistoryStore
from scanner.replay.traffic import RateWindow, RequestLog, RequestRecord

__all__ = ["ReplayServer"]

_log = logging.getLogger(__name__)

_Endpoint = Callable[["ReplayServer", Mapping[str, str]], r.Response]
_ENDPOINTS: dict[str, _Endpoint] = {
    "esearch": endpoints.esearch,
    "efetch": endpoints.efetch,
    "einfo": endpoints.einfo,
}
_DEFAULT_ERROR = "Search Backend failed: Database is not supported: pubmed"
_IDLE_TIMEOUT = 30.0  # seconds an idle keep-alive connection is kept open


def _merge_params(query: str, form: str) -> dict[str, str]:
    """Merge query-string and form parameters; repeated keys are joined with commas."""
    merged: dict[str, list[str]] = {}
    for text in (query, form):
        for key, value in parse_qsl(text, keep_blank_values=True):
            merged.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in merged.items()}


class _HTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` bound to one :class:`ReplayServer`, quiet on errors."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], replay: ReplayServer) -> None:
        self.replay = replay
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can
        # stall for seconds on machines without a resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("replay server: error on a connection from %s", client_address,
                   exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """One connection: parses requests, applies faults, writes answers."""

    protocol_version = "HTTP/1.1"
    server_version = "ReplayEutils/1.0"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer

    # -- connection lifecycle -------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.replay._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.server.replay._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # client went away (reset, broken pipe, timeout)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("replay server: " + format, *args)

    # -- request entry points -------------------------------------------------------

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        replay = self.server.replay
        arrival, wall = time.monotonic(), time.time()
        split = urlsplit(self.path)
        form = ""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if len(body) < length:  # the client left mid-body: nothing to answer
                self.close_connection = True
                return
            form = body.decode("utf-8", "replace")
        params = _merge_params(split.query, form)
        record = RequestRecord(arrival, wall, method, endpoint_name(split.path), params)
        replay._requests.append(record)
        try:
            self._answer(replay, record, arrival)
        except OSError:  # the client went away; handle() ends the connection quietly
            raise
        except Exception:  # a bug here must not kill the connection thread silently
            _log.exception("replay server: internal error answering %s", self.path)
            self._send(record, r.Response(500, b"replay server internal error\n",
                                          "text/plain; charset=utf-8"))

    # -- answering ------------------------------------------------------------------

    def _answer(self, replay: ReplayServer, record: RequestRecord, arrival: float) -> None:
        limit = replay.rate_limit
        window_count = replay._rate_window.hit(arrival) if limit is not None else 0
        limited = limit is not None and window_count > limit
        fault = None if limited else replay.faults.take(record.endpoint)
        record.fault = "rate_limit" if limited else (fault.kind if fault else None)

        if replay.delay_all > 0 and replay._stopping.wait(replay.delay_all):
            self._close(reset=False)
            return
        if limited:
            assert limit is not None
            self._send(record, r.rate_limit_response(
                self.client_address[0], window_count, _number(limit),
                {"X-RateLimit-Limit": _number(limit), "X-RateLimit-Remaining": "0"}))
            return
        if fault is None:
            self._send(record, self._normal(replay, record))
            return
        self._apply_fault(replay, record, fault)

    def _normal(self, replay: ReplayServer, record: RequestRecord,
                missing: Mapping[str, Any] | None = None) -> r.Response:
        """The correct answer to the request."""
        if record.endpoint == "efetch" and missing is not None:
            response = endpoints.efetch(replay, record.params, missing)
        elif record.endpoint in _ENDPOINTS:
            response = _ENDPOINTS[record.endpoint](replay, record.params)
        else:
            response = r.html_error_page(404)
        if replay.rate_limit is not None:
            response.headers.setdefault("X-RateLimit-Limit", _number(replay.rate_limit))
        return response

    def _apply_fault(self, replay: ReplayServer, record: RequestRecord,
                     fault: PlannedFault) -> None:
        """Do what ``fault.kind`` promises on the wire (see the package docstring)."""
        kind, opts = fault.kind, fault.opts
        fraction = float(opts.get("fraction", 0.5))
        if kind == "status":
            status = int(opts["status"])
            if status == 429:
                response = r.rate_limit_response(
                    self.client_address[0], int(opts.get("count", 11)),
                    str(opts.get("limit", "3")))
            else:
                response = r.html_error_page(status)
            if opts.get("retry_after"):
                response.headers["Retry-After"] = _number(opts["retry_after"])
            self._send(record, response)
        elif kind == "error_200":
            self._send(record, r.error_response(record.endpoint,
                                                str(opts.get("message", _DEFAULT_ERROR))))
        elif kind == "html":
            self._send(record, r.maintenance_page())
        elif kind == "text":
            self._send(record, r.Response(200, b"Unable to route request!",
                                          "text/plain; charset=utf-8"))
        elif kind == "json_error":
            body = json.dumps({"error": str(opts.get("message", "API temporarily unavailable"))},
                              separators=(",", ":"))
            self._send(record, r.Response(200, body.encode(), "application/json"))
        elif kind == "empty":
            self._send(record, r.Response(200, b""))
        elif kind == "truncated":
            response = self._normal(replay, record)
            response.body = response.body[: int(len(response.body) * fraction)]
            self._send(record, response)
        elif kind == "drop":
            response = self._normal(replay, record)
            self._send(record, response, body_bytes=int(len(response.body) * fraction))
            self._close(reset=False)
        elif kind == "reset":
            self._close(reset=True)
        elif kind in ("hang", "delay"):
            seconds = float(opts.get("seconds", 30.0))
            if replay._stopping.wait(seconds):
                self._close(reset=False)
            else:
                self._send(record, self._normal(replay, record))
        elif kind == "missing":
            self._send(record, self._normal(replay, record, missing=opts))
        elif kind == "raw":
            self._send(record, r.Response(int(opts.get("status", 200)), bytes(opts["body"]),
                                          str(opts.get("content_type", "text/xml")),
                                          dict(opts.get("headers", {}))))
        else:  # pragma: no cover - FaultPlan.add validates kinds
            raise ValueError(f"unknown fault kind {kind!r}")

    # -- wire helpers ---------------------------------------------------------------

    def _send(self, record: RequestRecord, response: r.Response,
              body_bytes: int | None = None) -> None:
        """Write status, headers and (all or ``body_bytes`` of) the body."""
        # Recorded first: with an empty body the client has the whole answer as soon as
        # the headers are flushed, and may read the request log before we get further.
        record.status = response.status
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        body = response.body if body_bytes is None else response.body[:body_bytes]
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _close(self, *, reset: bool) -> None:
        """End the connection now; with ``reset``, abortively (TCP RST)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            if reset:
                # SO_LINGER 0: close() sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)


def _number(value: float | int | str) -> str:
    """Render ``3.0`` as ``"3"`` and ``2.5`` as ``"2.5"`` for headers and bodies."""
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


class ReplayServer:
    """A local NCBI E-utilities server over a :class:`Corpus`, with fault injection.

    Settings may be changed while it runs:

    * ``unmatched_phrases``: phrases PubMed "cannot find". A term containing one
      gets ``<ErrorList><PhraseNotFound>``; ``unmatched_only`` decides the rest:
      ``True`` gives ``Count`` 0 and "No items found.", ``False`` the broadened
      results, ``None`` (default) picks ``True`` only when nothing else is left
      in the term (as NCBI does).
    * ``delay_all``: seconds to wait before every answer.
    * ``rate_limit``: if set, more than this many requests in any 1-second
      window get NCBI's HTTP 429 JSON answer.
    * ``deleted_as_delete_citation``: ``efetch`` reports deleted PMIDs in a
      ``<DeleteCitation>`` block instead of silently omitting them.
    """

    def __init__(self, corpus: Corpus, host: str = "127.0.0.1", port: int = 0) -> None:
        self.corpus = corpus
        self.faults = FaultPlan()
        self.history = HistoryStore()
        self.unmatched_phrases: set[str] = set()
        self.unmatched_only: bool | None = None
        self.delay_all: float = 0.0
        self.rate_limit: float | None = None
        self.deleted_as_delete_citation: bool = False
        #: a directory of ``PMC{id}.xml`` JATS files served for ``efetch db=pmc``
        self.pmc_dir: Path | None = None
        self.started_at = dt.datetime.now()
        self._requests = RequestLog()
        self._rate_window = RateWindow()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer((host, port), self)
        self.host = host
        self.port = int(self._httpd.server_address[1])

    # -- lifecycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port/entrez/eutils/``: append ``esearch.fcgi`` etc."""
        return f"http://{self.host}:{self.port}/entrez/eutils/"

    def start(self) -> ReplayServer:
        """Serve in a daemon thread; returns ``self``. A stopped server cannot restart."""
        if self._stopping.is_set():
            raise RuntimeError("this ReplayServer was stopped; create a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"replay-eutils-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Abort hangs and delays, stop serving, close every connection and the socket.

        Safe to call more than once.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- observation and control ----------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request so far, in arrival order."""
        return self._requests.snapshot()

    def requests_for(self, endpoint: str) -> list[RequestRecord]:
        """The requests to one endpoint (``"esearch"``, ``"efetch.fcgi"``, ...)."""
        return self._requests.snapshot(endpoint)

    def clear_requests(self) -> None:
        """Empty the request log (and the rate-limit window)."""
        self._requests.clear()
        self._rate_window.reset()

    def expire_webenvs(self) -> None:
        """Forget every ``WebEnv``, as when NCBI's history sessions time out."""
        self.history.expire_all()
