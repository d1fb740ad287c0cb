"""The server-rendered pages: sign-in, queue, draft, audit, dashboard, export, users."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..errors import PermissionDeniedError, ReviewError, StaleDraftError, StoreError
from ..logs import kv
from ..publish.export import FORMATS
from ..store import drafts as store
from ..store import users
from . import auth
from .agreement import chart as agreement_chart
from .agreement import figures as agreement_figures
from .dashboard import figures
from .login import TooManyAttempts, sign_in
from .service import LABELS, Review
from .validate import MAX_SEARCH_CHARS, check_text

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
EXPORT_TYPES = {"json": ("application/json", "json"), "csv": ("text/csv", "csv"),
                "bibtex": ("application/x-bibtex", "bib"),
                "ris": ("application/x-research-info-systems", "ris"),
                "markdown": ("text/markdown", "md")}


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


def _user(request: Request, role: str | None = None) -> auth.Curator:
    return auth.require_user(request, request.app.state.db, role)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


# -- signing in and out -------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    token = auth.login_token()
    response = _render(request, "login.html", {"user": None, "login_token": token,
                                               "next": _safe_next(next), "error": None})
    response.set_cookie(auth.LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.review.secure_cookies, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                login_token: str = Form(""), next: str = Form("/")) -> Response:
    auth.check_login_csrf(request, login_token)
    try:
        signed_in = await sign_in(request, username.strip(), password)
    except TooManyAttempts as exc:
        page = _render(request, "login.html", {
            "user": None, "login_token": login_token, "next": _safe_next(next),
            "error": str(exc).capitalize() + "."}, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if signed_in is None:
        response = _render(request, "login.html", {
            "user": None, "login_token": login_token, "next": _safe_next(next),
            "error": "Wrong username or password."}, status=401)
        return response
    _user_row, token, _csrf = signed_in
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = request.app.state.settings.review
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=settings.secure_cookies,
                        max_age=int(settings.session_hours * 3600))
    response.delete_cookie(auth.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    user = _user(request)
    auth.check_csrf(request, user, csrf_token)
    with request.app.state.db.write() as conn:
        users.end_session(conn, user.session_token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


# -- the queue -------------------------------------------------------------------------
def queue_filter(request: Request, state: str | None, pem: str | None, relevance: str | None,
                 route: str | None, design: str | None, year_from: str | None,
                 year_to: str | None, q: str | None, page: int,
                 user: auth.Curator | None = None) -> store.QueueFilter:
    def year(value: str | None) -> int | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.isdigit() or len(value) != 4:
            raise ReviewError(f"not a year: {value!r}")
        return int(value)

    # Dual review: the pending queue holds what still needs this curator's decision;
    # "adjudicate" what waits for this adjudicator.
    dual = request.app.state.review.policy.review.mode == "dual" and user is not None
    adjudicate = state == "adjudicate"
    if adjudicate:
        if user is None or user.role not in users.ADJUDICATORS:
            raise PermissionDeniedError("the adjudication queue needs an adjudicator or "
                                        "admin account")
        state = "pending"
    return store.QueueFilter(
        reviewer=user.username if dual and user and state in (None, "pending")
        and not adjudicate else None,
        adjudicator=user.username if user and adjudicate else None,
        state=None if state == "all" else (state or "pending"), pem_label=pem or None,
        relevance_label=relevance or None, relevance_route=route or None,
        design=design or None, year_from=year(year_from), year_to=year(year_to),
        search=check_text("the search", (q or "").strip(), MAX_SEARCH_CHARS) or None,
        page=max(1, page),
        per_page=request.app.state.settings.review.page_size)


@router.get("/")
def queue_page(request: Request, state: str | None = None, pem: str | None = None,
               relevance: str | None = None, route: str | None = None,
               design: str | None = None, year_from: str | None = None,
               year_to: str | None = None, q: str | None = None,
               page: int = Query(1, ge=1, le=100000)) -> Response:
    user = _user(request)
    f = queue_filter(request, state, pem, relevance, route, design, year_from, year_to, q, page,
                     user)
    rows, total = _review(request).queue(f)
    params = {k: v for k, v in {"state": state, "pem": pem, "relevance": relevance,
                                "route": route, "design": design, "year_from": year_from,
                                "year_to": year_to, "q": q}.items() if v}
    pages = max(1, -(-total // f.per_page))

    def page_url(n: int) -> str:
        return "/?" + urlencode({**params, "page": n})

    return _render(request, "queue.html", {
        "user": user, "rows": rows, "total": total, "page": f.page, "pages": pages,
        "prev_url": page_url(f.page - 1) if f.page > 1 else None,
        "next_url": page_url(f.page + 1) if f.page < pages else None,
        "f": f, "state": state or "pending", "labels": LABELS,
        "routes": ("auto_include", "review"), "params": params,
        "review_mode": _review(request).policy.review.mode})


# -- one paper ---------------------------------------------------------------------------
def _paper_page(request: Request, user: auth.Curator, pmid: str, *, status: int = 200,
                message: str | None = None, error: str | None = None,
                stale: StaleDraftError | None = None,
                unsaved: dict[str, str] | None = None) -> Response:
    view = _review(request).paper(pmid)
    return _render(request, "paper.html", {
        "user": user, **view, "message": message, "error": error, "stale": stale,
        "unsaved": unsaved or {}, "labels": LABELS, "editable": store.EDITABLE,
        "dual": request.app.state.dual.view(pmid, user.username, user.role),
        "definitions": request.app.state.review.policy.case_definitions}, status=status)


@router.get("/papers/{pmid}")
def paper_page(request: Request, pmid: str, saved: str | None = None) -> Response:
    user = _user(request)
    message = {"saved": "Saved.", "approved": "Approved.", "rejected": "Rejected.",
               "corrected": "Correction recorded as a training example.",
               "fulltext": "Full text stored and read.",
               "waiting": "Your decision is recorded. A second curator decides next.",
               "agreed": "Your decision agrees with the first curator's: the draft is decided.",
               "disagreed": "Your decision differs from the first curator's: the draft goes "
                            "to an adjudicator.",
               "adjudicated": "Adjudicated: the draft is decided."}.get(saved or "")
    return _paper_page(request, user, pmid, message=message)


def _fields(form: Any) -> dict[str, str]:
    out = {}
    for k in store.EDITABLE:
        if k in form:
            value = form[k]
            if not isinstance(value, str):      # a file part; BodyGuard refuses multipart
                raise ReviewError(f"{k} must be text")
            out[k] = value
    return out


@router.post("/papers/{pmid}/{action}")
async def paper_action(request: Request, pmid: str, action: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_paper_action, request, pmid, action, form)


def _paper_action(request: Request, pmid: str, action: str, form: Any) -> Response:
    user = _user(request)
    auth.check_csrf(request, user, str(form.get("csrf_token", "")))
    review = _review(request)
    fields = _fields(form)
    version_text = str(form.get("version", ""))
    if not version_text.isdigit() or len(version_text) > 9:
        raise ReviewError("the form has no draft version; reload the page")
    version = int(version_text)
    try:
        if action == "save":
            review.save(pmid, version, fields, user.username)
            done = "saved"
        elif action == "approve":
            review.approve(pmid, version, user.username, fields)
            done = "approved"
        elif action == "reject":
            reason = str(form.get("reason", ""))
            if not reason.strip():
                return _paper_page(request, user, pmid, status=422, unsaved=fields,
                                   error="Give a reason for the rejection.")
            review.reject(pmid, version, user.username, reason, fields)
            done = "rejected"
        elif action == "correct":
            review.correct(pmid, str(form.get("label", "")), str(form.get("value", "")),
                           user.username, str(form.get("note", "")))
            done = "corrected"
        else:
            raise ReviewError(f"unknown action {action!r}")
    except StaleDraftError as exc:
        return _paper_page(request, user, pmid, status=409, stale=exc, unsaved=fields,
                           error=str(exc))
    except StoreError as exc:   # full disk, read-only store: show the text back, unsaved
        log.error(kv("review_store_error", pmid=pmid, action=action, error=str(exc)))
        return _paper_page(request, user, pmid, status=503, unsaved=fields,
                           error=f"Nothing was saved: {exc}. Your text is still in the "
                                 "form below; save again once the database is fixed.")
    return RedirectResponse(f"/papers/{pmid}?saved={done}", status_code=303)


# -- audit, dashboard, export, users ----------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, page: int = Query(1, ge=1, le=100000)) -> Response:
    user = _user(request)
    with request.app.state.db.read() as conn:
        events = store.events(conn, limit=100, offset=(page - 1) * 100)
    return _render(request, "audit.html", {"user": user, "events": events, "page": page})


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    user = _user(request)
    fig = agreement_figures(request.app.state.db, _review(request).policy)
    return _render(request, "dashboard.html", {"user": user,
                                               **figures(request.app.state.db),
                                               "agreement": fig,
                                               "agreement_svg": agreement_chart(fig["over_time"])})


@router.get("/export")
def export_page(request: Request) -> Response:
    user = _user(request)
    with request.app.state.db.read() as conn:
        n = len(store.published(conn))
    return _render(request, "export.html", {"user": user, "formats": FORMATS, "count": n})


@router.get("/export/{fmt}")
def export_download(request: Request, fmt: str) -> Response:
    _user(request)
    if fmt not in EXPORT_TYPES:
        raise ReviewError(f"unknown export format {fmt!r}")
    body = _review(request).export(fmt)
    media, ext = EXPORT_TYPES[fmt]
    return Response(body, media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="mecfs-atlas.{ext}"'})


@router.get("/admin/users")
def users_page(request: Request, error: str | None = None) -> Response:
    user = _user(request, "admin")
    with request.app.state.db.read() as conn:
        rows = users.list_users(conn)
    return _render(request, "users.html", {"user": user, "users": rows, "error": error})


@router.post("/admin/users")
def users_add(request: Request, csrf_token: str = Form(""), username: str = Form(""),
              password: str = Form(""), role: str = Form("curator")) -> Response:
    user = _user(request, "admin")
    auth.check_csrf(request, user, csrf_token)
    try:
        with request.app.state.db.write() as conn:
            users.add_user(conn, username.strip(), password, role)
    except ReviewError as exc:
        with request.app.state.db.read() as conn:
            rows = users.list_users(conn)
        return _render(request, "users.html", {"user": user, "users": rows,
                                               "error": str(exc)}, status=422)
    return RedirectResponse("/admin/users", status_code=303)
