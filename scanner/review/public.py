"""The public pages served by the web app under ``/evidence/`` (no sign-in, read-only but
for the contribute form), and the curators' pages for contributions and "replicated"
links. The public pages are rendered by :mod:`scanner.publish.site`, as ``scanner
publish`` writes them; only their URLs differ (:func:`site.served_urls`), and served
pages carry the search box and the contribute form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from classifiers.policy import Policy

from ..errors import NotFoundError, ReviewError
from ..publish import entries as public_entries
from ..publish import site
from ..publish.contribute import ContributionRefused, submit
from ..store import public
from . import auth

router = APIRouter(include_in_schema=False)
CONTRIBUTE_COOKIE = "scanner_contribute"
_PMID = re.compile(r"^\d{1,12}$")
_SLUG = re.compile(r"^[a-z0-9-]*-(\d{1,12})$")


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.review.policy
    return policy


def _urls(request: Request) -> site.Urls:
    return site.served_urls(str(request.base_url).rstrip("/"))


def _entries(request: Request, pmids: list[str] | None = None) -> list[dict[str, Any]]:
    with request.app.state.db.read() as conn:
        return public_entries.collect(conn, _policy(request), pmids=pmids)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "")[:80] for k in site.FILTERS}


@router.get("/evidence/", response_class=HTMLResponse)
@router.get("/evidence", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return _html(site.index_page(entries, _urls(request), _policy(request), _filters(request)))


def _ask_index(request: Request, entries: list[dict[str, Any]]) -> Any:
    """One ranker per set of published entries (rebuilt when an entry changes)."""
    from ..publish.ask import AskIndex

    key = hashlib.sha256(json.dumps([(e["pmid"], e.get("approved_at"), e["notices"])
                                     for e in entries]).encode()).hexdigest()
    cached = getattr(request.app.state, "ask_index", None)
    if cached is None or cached[0] != key:
        settings = request.app.state.settings
        cached = (key, AskIndex(entries, _policy(request),
                                cache_dir=settings.root / "var" / "cache"))
        request.app.state.ask_index = cached
    return cached[1]


@router.get("/evidence/ask", response_class=HTMLResponse)
async def ask(request: Request, q: str = "") -> Response:
    from ..publish.ask import AskError

    entries = await run_in_threadpool(_entries, request)
    question = " ".join(q.split())[:300]
    answers: list[dict[str, Any]] | None = None
    status = 200
    if question:
        try:
            index = await run_in_threadpool(_ask_index, request, entries)
            found = await run_in_threadpool(index.ask, question, 10)
            answers = [a.to_json() for a in found]
        except AskError:
            answers, status = [], 400
    return _html(site.index_page(entries, _urls(request), _policy(request),
                                 question=question, answers=answers), status)


@router.get("/evidence/about", response_class=HTMLResponse)
async def about(request: Request) -> Response:
    return _html(site.about_page(_policy(request), _urls(request)))


@router.get("/evidence/feed.xml")
async def feed(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return Response(site.atom_feed(entries, _urls(request)),
                    media_type="application/atom+xml; charset=utf-8")


@router.get("/evidence/sitemap.xml")
async def sitemap(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return Response(site.sitemap(entries, _urls(request)),
                    media_type="application/xml; charset=utf-8")


@router.get("/evidence/entries.json")
async def entries_json(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return Response(site.entries_json(entries, _urls(request)),
                    media_type="application/json; charset=utf-8")


@router.get("/evidence/entries.csv")
async def entries_csv(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return Response(site.entries_csv(entries, _urls(request)),
                    media_type="text/csv; charset=utf-8")


@router.get("/evidence/static/public.css")
async def stylesheet() -> Response:
    return Response(site.STYLESHEET.read_text(encoding="utf-8"), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


def _entry_response(request: Request, pmid: str, *, message: str | None = None,
                    form: dict[str, str] | None = None, status: int = 200) -> Response:
    entries = _entries(request, [pmid])
    urls = _urls(request)
    if not entries:
        with request.app.state.db.read() as conn:
            gone = pmid in public_entries.withdrawn(conn)
        if gone:    # 404 (the contract: no approved entry), with the withdrawal notice
            return _html(site.withdrawn_page(pmid, urls), 404)
        raise NotFoundError(f"no approved entry for PMID {pmid}")
    entry = entries[0]
    titles = {}
    if entry["replicated_with"]:
        titles = site.entry_titles(_entries(request, entry["replicated_with"]))
    token = request.cookies.get(CONTRIBUTE_COOKIE) or secrets.token_urlsafe(24)
    html = site.entry_page(entry, urls, _policy(request), public_entries.today(),
                           titles=titles, message=message, form=form, csrf=token)
    response = _html(html, status)
    response.set_cookie(CONTRIBUTE_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.review.secure_cookies,
                        max_age=86400)
    return response


@router.get("/evidence/{key}", response_class=HTMLResponse)
@router.get("/evidence/{key}/", response_class=HTMLResponse)
async def entry(request: Request, key: str) -> Response:
    if _PMID.match(key):
        return await run_in_threadpool(_entry_response, request, key)
    slug = _SLUG.match(key)
    if slug:
        return RedirectResponse(f"/evidence/{slug.group(1)}", status_code=301)
    raise NotFoundError(f"no approved entry at /evidence/{key}")


def _secret(request: Request) -> bytes:
    state = request.app.state
    if not hasattr(state, "contribute_secret"):
        state.contribute_secret = secrets.token_bytes(32)
    secret: bytes = state.contribute_secret
    return secret


@router.post("/evidence/{pmid}/contribute", response_class=HTMLResponse)
async def contribute(request: Request, pmid: str, kind: str = Form("correction"),
                     body: str = Form(""), contact: str = Form(""),
                     website: str = Form(""), csrf: str = Form("")) -> Response:
    if not _PMID.match(pmid):
        raise NotFoundError(f"no approved entry for PMID {pmid}")
    auth.check_origin(request)
    cookie = request.cookies.get(CONTRIBUTE_COOKIE) or ""
    if not csrf or not cookie or not hmac.compare_digest(csrf, cookie):
        raise auth.CsrfError("refused: the form expired; reload the page and try again "
                             "(nothing was sent)")
    if not _entries(request, [pmid]):
        raise NotFoundError(f"no approved entry for PMID {pmid}")
    address = request.client.host if request.client else "unknown"
    form = {"kind": kind, "body": body[:5000], "contact": contact[:300]}
    try:
        outcome = await run_in_threadpool(
            submit, request.app.state.db, pmid=pmid, kind=kind, body=body, contact=contact,
            honeypot=website, address=address, secret=_secret(request))
    except ContributionRefused as exc:
        return await run_in_threadpool(_entry_response, request, pmid, message=str(exc),
                                       form=form, status=exc.http_status)
    return await run_in_threadpool(_entry_response, request, pmid, message=outcome.message)


# -- curators: contributions and replicated links --------------------------------------

def _render(request: Request, name: str, context: dict[str, Any]) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(request, name, context)
    return response


@router.get("/contributions", response_class=HTMLResponse)
def contributions_page(request: Request, state: str = "new") -> Response:
    user = auth.require_user(request, request.app.state.db)
    if state not in ("", *public.CONTRIBUTION_STATES):
        raise ReviewError(f"unknown state {state!r}")
    with request.app.state.db.read() as conn:
        rows = public.contributions(conn, state or None)
    return _render(request, "contributions.html", {"user": user, "rows": rows,
                                                   "state": state})


@router.post("/contributions/{contribution_id}")
def contribution_handle(request: Request, contribution_id: int, state: str = Form(""),
                        csrf_token: str = Form("")) -> Response:
    user = auth.require_user(request, request.app.state.db)
    auth.check_csrf(request, user, csrf_token)
    with request.app.state.db.write() as conn:
        public.handle(conn, contribution_id, state, user.username)
    return RedirectResponse("/contributions", status_code=303)


@router.get("/replications", response_class=HTMLResponse)
def replications_page(request: Request, pmid: str = "") -> Response:
    user = auth.require_user(request, request.app.state.db)
    with request.app.state.db.read() as conn:
        links = public.replications(conn)
    pairs = sorted({tuple(sorted((a, b))) for a, bs in links.items() for b in bs})
    return _render(request, "replications.html", {"user": user, "pairs": pairs,
                                                  "pmid": pmid, "message": None})


@router.post("/replications")
def replications_add(request: Request, pmid: str = Form(""), other: str = Form(""),
                     note: str = Form(""), action: str = Form("link"),
                     csrf_token: str = Form("")) -> Response:
    from ..store import drafts as store

    user = auth.require_user(request, request.app.state.db)
    auth.check_csrf(request, user, csrf_token)
    pmid, other = pmid.strip(), other.strip()
    if not (_PMID.match(pmid) and _PMID.match(other)):
        raise ReviewError("give two PMIDs")
    with request.app.state.db.write() as conn:
        if action == "unlink":
            public.unlink(conn, pmid, other)
        else:
            for p in (pmid, other):
                row = store.find(conn, p)
                if row is None or not row.has_published:
                    raise ReviewError(f"PMID {p} has no approved entry to link")
            public.link(conn, pmid, other, user.username, note.strip() or None)
    return RedirectResponse(f"/replications?pmid={pmid}", status_code=303)
