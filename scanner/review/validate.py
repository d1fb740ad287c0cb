"""Text validation at the review app's boundary: every form field, JSON string and query.

One rule for all text a request brings: it must be encodable (no lone surrogates, which
Python accepts from a JSON ``\\ud800`` escape but no page, database or export can write),
free of control characters other than tab, newline and carriage return (PostgreSQL refuses
NUL), and at most ``max_field_chars`` characters. Bodies are capped at ``max_body_bytes``
(413) before anything parses them; multipart bodies are refused (but for the full-text uploads,
and a file part would otherwise be stored as the text ``UploadFile(...)``).

:class:`BodyGuard` (an ASGI middleware) applies the rule to every request before a route
sees it, so no route can forget it; :func:`check_text` is the rule itself.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from ..errors import ReviewError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Request bodies larger than this are refused with 413 (the largest real form is a few KB).
MAX_BODY_BYTES = 1_000_000
#: Longest text field (a summary or reason); a search box is capped separately.
MAX_FIELD_CHARS = 20_000
#: Longest search text: SQLite refuses LIKE patterns over 50,000 bytes.
MAX_SEARCH_CHARS = 500
_ALLOWED_CONTROLS = frozenset("\t\n\r")


class InvalidText(ReviewError):
    """A field that is not storable text, or too long."""

    http_status = 422


class BodyTooLarge(ReviewError):
    http_status = 413


def check_text(name: str, value: str, max_chars: int = MAX_FIELD_CHARS) -> str:
    """``value`` when it is storable text of at most ``max_chars``; else InvalidText."""
    if len(value) > max_chars:
        raise InvalidText(f"{name} is too long: {len(value):,} characters "
                          f"(at most {max_chars:,})")
    for i, ch in enumerate(value):
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidText(f"{name} holds a lone surrogate (U+{code:04X}) at character "
                              f"{i + 1}, which is not valid Unicode text")
        if (code < 0x20 and ch not in _ALLOWED_CONTROLS) or code == 0x7F or code in (
                0xFFFE, 0xFFFF):
            raise InvalidText(f"{name} holds the control character U+{code:04X} at "
                              f"character {i + 1}")
    return value


def check_json(value: Any, name: str = "body", max_chars: int = MAX_FIELD_CHARS) -> None:
    """Every string (keys too) inside a parsed JSON value passes :func:`check_text`."""
    if isinstance(value, str):
        check_text(name, value, max_chars)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(f"a key in {name}", key, 200)
            check_json(item, f"{name}.{key}" if name != "body" else key, max_chars)
    elif isinstance(value, list):
        for item in value:
            check_json(item, name, max_chars)


def check_form(body: bytes, max_chars: int = MAX_FIELD_CHARS) -> None:
    """Every name and value of an urlencoded body is UTF-8 and passes :func:`check_text`."""
    for raw in body.split(b"&"):
        if not raw:
            continue
        key, _, value = raw.partition(b"=")
        name = _decode(key, "a field name")
        check_text("a field name", name, 200)
        check_text(name, _decode(value, name), max_chars)


def check_query(query: bytes, max_chars: int = MAX_FIELD_CHARS) -> None:
    """Every name and value of a query string is UTF-8 and passes :func:`check_text`."""
    # parse_qsl with latin-1 keeps each percent-decoded byte as one character.
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True,
                                 encoding="latin-1"):
        label = _utf8(name.encode("latin-1"), "a query parameter name")
        check_text("a query parameter name", label, 200)
        check_text(label, _utf8(value.encode("latin-1"), label), max_chars)


def _decode(raw: bytes, name: str) -> str:
    """A form name or value: ``+`` is a space, then percent-decoded, then UTF-8."""
    return _utf8(unquote_to_bytes(raw.replace(b"+", b" ")), name)


def _utf8(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidText(f"{name} is not valid UTF-8 text") from None


def _error_response(path: str, status: int, message: str) -> tuple[bytes, bytes]:
    """(body, content type) of a refusal: JSON under /api/, a small HTML page elsewhere."""
    if path.startswith("/api/"):
        return json.dumps({"detail": message}).encode(), b"application/json"
    page = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{status}</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
            "</head><body><main><h1>The request was refused</h1>"
            f"<p class=\"error\" role=\"alert\">{html.escape(message)}</p>"
            "<p><a href=\"/\">Back to the queue</a></p></main></body></html>")
    return page.encode(), b"text/html; charset=utf-8"


class BodyGuard:
    """Cap and validate every request's body and query string before the app reads them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES,
                 max_field_chars: int = MAX_FIELD_CHARS) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_field_chars = max_field_chars

    #: The curators' full-text uploads (``review/upload.py``): the one place a multipart
    #: body is accepted; that route enforces ``review.upload_max_mb`` (refusing a declared
    #: size over it before reading), checks the file's kind and decodes text strictly.
    UPLOADS = re.compile(r"^(?:/papers|/api/drafts)/[0-9]{1,9}/fulltext$")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        try:
            check_text("the path", path, 2000)
            check_query(scope.get("query_string", b""), self.max_field_chars)
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
            upload = scope.get("method") == "POST" and bool(self.UPLOADS.match(path))
            if upload:
                body = b""
            elif ctype.startswith("multipart/"):
                raise InvalidText("multipart bodies are not accepted: send the form "
                                  "urlencoded or the API's JSON")
            length = headers.get(b"content-length")
            if not upload and length is not None and length.strip().isdigit() \
                    and int(length) > self.max_body_bytes:
                raise BodyTooLarge(self._too_large())
            if not upload:
                body = await self._read(receive)
            if body:
                if "json" in ctype:
                    try:
                        parsed = json.loads(body)
                    except (ValueError, RecursionError):
                        parsed = None       # the route answers malformed JSON itself
                    check_json(parsed, max_chars=self.max_field_chars)
                elif ctype.startswith("application/x-www-form-urlencoded"):
                    check_form(body, self.max_field_chars)
        except ReviewError as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if upload:  # streamed to the upload route, which applies its own limits
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is over the limit of {self.max_body_bytes:,} bytes"

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      exc: ReviewError) -> None:
        body, ctype = _error_response(scope.get("path", ""), exc.http_status, str(exc))
        await send({"type": "http.response.start", "status": exc.http_status, "headers": [
            (b"content-type", ctype), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
