"""The JSON API: the same operations as the pages, described by OpenAPI at /api/openapi.json.

Changes need the session's ``X-CSRF-Token`` header and the draft's ETag in ``If-Match``;
a stale ETag is answered 412 with what changed, a missing one 428.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..errors import ReviewError
from ..store import drafts as store
from ..store import users
from . import auth, login
from .pages import EXPORT_TYPES, queue_filter
from .service import Review

router = APIRouter(prefix="/api", tags=["review"])


class Credentials(BaseModel):
    username: str
    password: str


class Fields(BaseModel):
    fields: dict[str, str] = Field(description=f"Any of: {', '.join(store.EDITABLE)}")


class Decision(BaseModel):
    reason: str | None = Field(None, description="Required to reject.")
    fields: dict[str, str] | None = None


class Correction(BaseModel):
    label: Literal["relevance", "pem", "design", "definitions"]
    value: str = Field(description="The corrected label; for definitions a comma list of ids.")
    note: str | None = None


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


def _changer(request: Request) -> auth.Curator:
    user = auth.require_user(request, request.app.state.db)
    auth.check_csrf(request, user, None)
    return user


def _version(if_match: str | None, pmid: str) -> int:
    """The version in an ETag ``"PMID-VERSION"``; one of another draft is refused."""
    if not if_match:
        raise ReviewError("send the draft's ETag in If-Match")
    tag_pmid, _, number = if_match.strip().removeprefix("W/").strip('"').rpartition("-")
    if not number.isdigit() or len(number) > 9:
        raise ReviewError(f"not an ETag of a draft: {if_match[:80]!r}")
    if tag_pmid != pmid:
        raise ReviewError(f"the If-Match ETag is for draft {tag_pmid[:20]!r}, not {pmid!r}")
    return int(number)


def _etag(pmid: str, version: int) -> str:
    return f'"{pmid}-{version}"'


def _draft_json(view: dict[str, Any]) -> dict[str, Any]:
    d = view["draft"]
    c = view["classification"]
    return {
        "pmid": d.pmid, "state": d.state, "version": d.version, "title": d.title,
        "fields": d.fields, "flags": d.flags, "requeue_reason": d.requeue_reason,
        "reject_reason": d.reject_reason, "retracted": d.retracted,
        "published": d.published, "decided_by": d.decided_by,
        "decided_at": d.decided_at.isoformat() if d.decided_at else None,
        "classification": c.result, "generated": d.generated,
        "policy_history": [dict(h._mapping) | {"created_at": h.created_at.isoformat()}
                           for h in view["history"]],
    }


def _with_etag(request: Request, pmid: str) -> JSONResponse:
    view = _review(request).paper(pmid)
    return JSONResponse(_draft_json(view),
                        headers={"ETag": _etag(pmid, view["draft"].version)})


@router.post("/session", summary="Sign in; returns the CSRF token for later changes",
             responses={429: {"description": "Too many failed sign-ins; try later"}})
async def sign_in(request: Request, body: Credentials) -> JSONResponse:
    auth.check_origin(request)
    settings = request.app.state.settings.review
    signed_in = await login.sign_in(request, body.username, body.password)
    if signed_in is None:
        return JSONResponse({"detail": "wrong username or password"}, status_code=401)
    user, token, csrf = signed_in
    response = JSONResponse({"username": user.username, "role": user.role,
                             "csrf_token": csrf})
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, max_age=int(settings.session_hours * 3600))
    return response


@router.delete("/session", summary="Sign out: ends this session (X-CSRF-Token required)",
               status_code=204)
def sign_out(request: Request) -> Response:
    user = _changer(request)
    with request.app.state.db.write() as conn:
        users.end_session(conn, user.session_token)
    response = Response(status_code=204)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


@router.get("/drafts", summary="The queue, highest priority first, filtered and paged; under "
                               "dual review state=pending lists what still needs your "
                               "decision, state=adjudicate what waits for your adjudication")
def list_drafts(request: Request, state: str | None = None, pem: str | None = None,
                relevance: str | None = None, route: str | None = None,
                design: str | None = None, year_from: str | None = None,
                year_to: str | None = None, q: str | None = None,
                page: int = Query(1, ge=1, le=100000)) -> dict[str, Any]:
    user = auth.require_user(request, request.app.state.db)
    f = queue_filter(request, state, pem, relevance, route, design, year_from, year_to, q, page,
                     user)
    rows, total = _review(request).queue(f)
    return {"total": total, "page": f.page, "per_page": f.per_page, "items": [
        {**dict(r._mapping), "create_date": r.create_date.isoformat() if r.create_date
         else None, "updated_at": r.updated_at.isoformat(), "url": f"/papers/{r.pmid}"}
        for r in rows]}


@router.get("/drafts/{pmid}", summary="One draft with its classification; ETag is its version")
def get_draft(request: Request, pmid: str) -> JSONResponse:
    auth.require_user(request, request.app.state.db)
    return _with_etag(request, pmid)


@router.patch("/drafts/{pmid}", summary="Edit draft fields (If-Match required)")
def patch_draft(request: Request, pmid: str, body: Fields,
                if_match: str | None = Header(None)) -> JSONResponse:
    user = _changer(request)
    _require_if_match(if_match)
    _review(request).save(pmid, _version(if_match, pmid), body.fields, user.username)
    return _with_etag(request, pmid)


@router.post("/drafts/{pmid}/approve", summary="Approve and publish (If-Match required)")
def approve(request: Request, pmid: str, body: Decision | None = None,
            if_match: str | None = Header(None)) -> JSONResponse:
    user = _changer(request)
    _require_if_match(if_match)
    _review(request).approve(pmid, _version(if_match, pmid), user.username,
                             body.fields if body else None)
    return _with_etag(request, pmid)


@router.post("/drafts/{pmid}/reject", summary="Reject with a reason (If-Match required)")
def reject(request: Request, pmid: str, body: Decision,
           if_match: str | None = Header(None)) -> JSONResponse:
    user = _changer(request)
    _require_if_match(if_match)
    _review(request).reject(pmid, _version(if_match, pmid), user.username, body.reason or "",
                            body.fields)
    return _with_etag(request, pmid)


@router.post("/drafts/{pmid}/corrections", summary="Correct a classifier label")
def correct(request: Request, pmid: str, body: Correction) -> JSONResponse:
    user = _changer(request)
    _review(request).correct(pmid, body.label, body.value, user.username, body.note)
    return _with_etag(request, pmid)


@router.get("/drafts/{pmid}/events", summary="The draft's audit trail, newest first")
def draft_events(request: Request, pmid: str) -> list[dict[str, Any]]:
    auth.require_user(request, request.app.state.db)
    with request.app.state.db.read() as conn:
        store.get(conn, pmid)
        return [_event_json(e) for e in store.events(conn, pmid)]


@router.get("/events", summary="The global audit trail, newest first")
def all_events(request: Request, page: int = Query(1, ge=1, le=100000)) -> list[dict[str, Any]]:
    auth.require_user(request, request.app.state.db)
    with request.app.state.db.read() as conn:
        return [_event_json(e) for e in store.events(conn, limit=100, offset=(page - 1) * 100)]


@router.get("/export", summary="Approved entries only, with their version stamps")
def export(request: Request, format: str = Query("json")) -> Response:
    auth.require_user(request, request.app.state.db)
    if format not in EXPORT_TYPES:
        raise ReviewError(f"unknown export format {format!r} "
                          f"(one of {', '.join(EXPORT_TYPES)})")
    return Response(_review(request).export(format),
                    media_type=f"{EXPORT_TYPES[format][0]}; charset=utf-8")


def _require_if_match(if_match: str | None) -> None:
    if not if_match:
        raise PreconditionRequired("send the draft's ETag in If-Match (GET it first)")


class PreconditionRequired(ReviewError):
    http_status = 428


def _event_json(e: Any) -> dict[str, Any]:
    return {**dict(e._mapping), "at": e.at.isoformat()}
