"""Routes for a curator's full text: the draft page's form and the JSON API.

``POST /papers/{pmid}/fulltext`` (the page's "Full text (PDF)" field and "Upload" button,
or the pasted methods text) and ``POST /api/drafts/{pmid}/fulltext`` take a multipart body
with ``file`` (a PDF or plain UTF-8 text) or ``text`` (pasted methods). Before the body is
read: the session, the origin, and the declared size (a body over the limit, or one
without a ``Content-Length``, is refused unread). Then the CSRF token (the form's hidden
field; the API's ``X-CSRF-Token`` header), then the text (``fulltext_upload.py``),
then :func:`supplied.supply`. A refused upload stores nothing and says why.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..errors import ReviewError
from . import auth
from .api import _draft_json, _etag, _version
from .fulltext_upload import Extracted, UploadError, UploadTooLargeError, extract, pasted
from .pages import _paper_page
from .supplied import supply

router = APIRouter()
#: Room for the multipart framing and the other form fields, over the file size limit.
FORM_OVERHEAD = 64 * 1024

REQUEST_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "The paper as a PDF (with a text layer) or plain UTF-8 text."},
        "text": {"type": "string",
                 "description": "Instead of a file: the methods text, pasted."}}}}}}


class LengthRequired(ReviewError):
    http_status = 411


def _limits(request: Request) -> tuple[int, int]:
    review = request.app.state.settings.review
    return int(review.upload_max_mb * 1_000_000), int(review.upload_max_pages)


def _check_declared_size(request: Request) -> None:
    """Refuse a body over the limit before reading it."""
    max_bytes, _ = _limits(request)
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise LengthRequired("send the upload with a Content-Length; nothing was stored")
    if int(declared) > max_bytes + FORM_OVERHEAD:
        raise UploadTooLargeError(
            f"the file is too large: {int(declared) / 1e6:.1f} MB sent, the limit is "
            f"{max_bytes / 1e6:.0f} MB (review.upload_max_mb); nothing was stored")


async def _read_form(request: Request) -> tuple[Any, bytes | None, str | None, str]:
    """The parsed form, the file's bytes and name (if a file was chosen), the pasted text."""
    max_bytes, _ = _limits(request)
    form = await request.form(max_files=1, max_fields=8,
                              max_part_size=max_bytes + FORM_OVERHEAD)
    upload = form.get("file")
    data: bytes | None = None
    name: str | None = None
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        data = await upload.read(max_bytes + 1)
        name = upload.filename
    text = form.get("text")
    return form, data, name, text if isinstance(text, str) else ""


def _extracted(request: Request, data: bytes | None, name: str | None,
               text: str) -> Extracted:
    max_bytes, max_pages = _limits(request)
    if data is not None:
        return extract(data, name, max_bytes=max_bytes, max_pages=max_pages)
    if text.strip():
        return pasted(text, max_bytes=max_bytes)
    raise UploadError("choose a PDF or text file, or paste the methods text; nothing was "
                      "stored")


# -- the draft page ------------------------------------------------------------------------
@router.post("/papers/{pmid}/fulltext", include_in_schema=False)
async def upload_page(request: Request, pmid: str) -> Response:
    user = await run_in_threadpool(auth.require_user, request, request.app.state.db)
    auth.check_origin(request)
    try:
        _check_declared_size(request)
        form, data, name, text = await _read_form(request)
        auth.check_csrf(request, user, str(form.get("csrf_token", "")))
        extracted = await run_in_threadpool(_extracted, request, data, name, text)
        await run_in_threadpool(supply, request.app.state.review, pmid, extracted,
                                user.username)
    except UploadError as exc:
        return await run_in_threadpool(_paper_page, request, user, pmid,
                                       status=exc.http_status,
                                       error=f"Full text not stored: {exc}")
    return RedirectResponse(f"/papers/{pmid}?saved=fulltext", status_code=303)


# -- the JSON API --------------------------------------------------------------------------
@router.post("/api/drafts/{pmid}/fulltext", tags=["review"],
             summary="Supply the paper's full text (PDF or text file, or pasted methods)",
             description="Multipart: `file` (a PDF with a text layer, or plain UTF-8 text) "
                         "or `text` (pasted methods). The text is stored with its sha256, "
                         "read by the policy's full-text reader, and the draft's labels, "
                         "PEM field and evidence updated (fields a curator edited are kept). "
                         "Needs X-CSRF-Token; If-Match (the draft's ETag) is optional and "
                         "checked when given. 413: too large; 415: not a PDF or UTF-8 text; "
                         "422: a PDF without a text layer, encrypted or unreadable, or empty.",
             openapi_extra={"requestBody": REQUEST_BODY})
async def upload_api(request: Request, pmid: str,
                     if_match: str | None = Header(None)) -> JSONResponse:
    user = await run_in_threadpool(auth.require_user, request, request.app.state.db)
    auth.check_csrf(request, user, None)
    _check_declared_size(request)
    expected = _version(if_match, pmid) if if_match else None
    _form, data, name, text = await _read_form(request)
    extracted = await run_in_threadpool(_extracted, request, data, name, text)
    review = request.app.state.review
    done = await run_in_threadpool(supply, review, pmid, extracted, user.username,
                                   expected_version=expected)
    view = await run_in_threadpool(review.paper, pmid)
    return JSONResponse({**_draft_json(view), "fulltext": done.to_json(),
                         "message": done.message()},
                        headers={"ETag": _etag(pmid, view["draft"].version)})
