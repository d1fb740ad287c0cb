"""Routes of dual review: the draft page's decision and adjudication forms, and the JSON
API (``/api/drafts/{pmid}/review``, ``.../decision``, ``.../adjudication``,
``/api/agreement``). The page router is included before the generic
``/papers/{pmid}/{action}`` route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..errors import ReviewError, StaleDraftError
from ..store import drafts as store
from . import auth
from .agreement import figures
from .dual import DualReview, Verdict
from .service import LABELS

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["dual review"])


def _dual(request: Request) -> DualReview:
    dual: DualReview = request.app.state.dual
    return dual


def _verdict(form: Any) -> Verdict:
    return Verdict(
        relevance=str(form.get("label_relevance", "")), pem=str(form.get("label_pem", "")),
        design=str(form.get("label_design", "")), decision=str(form.get("decision", "")),
        evidence=tuple(str(v) for v in form.getlist("evidence")),
        quote=str(form.get("quote", "")), note=str(form.get("note", "")),
        fields={k: str(form[k]) for k in store.EDITABLE if k in form})


@pages.post("/papers/{pmid}/decision")
async def decision_form(request: Request, pmid: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_submit, request, pmid, form, False)


@pages.post("/papers/{pmid}/adjudication")
async def adjudication_form(request: Request, pmid: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_submit, request, pmid, form, True)


def _submit(request: Request, pmid: str, form: Any, adjudicating: bool) -> Response:
    from .pages import _paper_page

    user = auth.require_user(request, request.app.state.db)
    auth.check_csrf(request, user, str(form.get("csrf_token", "")))
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        raise ReviewError("the form has no draft version; reload the page") from None
    verdict = _verdict(form)
    try:
        if adjudicating:
            _dual(request).adjudicate(pmid, version, user.username, user.role, verdict)
            done = "adjudicated"
        else:
            done = _dual(request).decide(pmid, version, user.username, user.role, verdict)
    except StaleDraftError as exc:
        return _paper_page(request, user, pmid, status=409, error=str(exc))
    except ReviewError as exc:
        if exc.http_status != 400:
            raise
        return _paper_page(request, user, pmid, status=422, error=str(exc))
    return RedirectResponse(f"/papers/{pmid}?saved={done}", status_code=303)


# -- JSON API ---------------------------------------------------------------------------
class VerdictBody(BaseModel):
    relevance: str = Field(description=f"One of: {', '.join(LABELS['relevance'])}")
    pem: str = Field(description=f"One of: {', '.join(LABELS['pem'])}")
    design: str = Field(description=f"One of: {', '.join(LABELS['design'])}")
    decision: str = Field(description="approve or reject")
    evidence: list[str] = Field([], description="Ids of the case definitions whose evidence "
                                                "you accept (the classifier's spans).")
    quote: str = Field("", description="Evidence you mark yourself: text of the paper.")
    note: str = Field("", description="Required to reject; shown after both decided.")
    fields: dict[str, str] | None = Field(None, description="Your text of the entry (any of: "
                                          f"{', '.join(store.EDITABLE)}); private until both "
                                          "decided.")

    def verdict(self) -> Verdict:
        return Verdict(relevance=self.relevance, pem=self.pem, design=self.design,
                       decision=self.decision, evidence=tuple(self.evidence), quote=self.quote,
                       note=self.note, fields=self.fields)


def _changer(request: Request) -> auth.Curator:
    user = auth.require_user(request, request.app.state.db)
    auth.check_csrf(request, user, None)
    return user


def _if_match(if_match: str | None, pmid: str) -> int:
    from .api import PreconditionRequired, _version

    if not if_match:
        raise PreconditionRequired("send the draft's ETag in If-Match (GET it first)")
    return _version(if_match, pmid)


@api.get("/drafts/{pmid}/review",
         summary="Dual review of a draft as you may see it: status, what you may do, the "
                 "decisions visible to you (another curator's only after you decided)")
def review_status(request: Request, pmid: str) -> dict[str, Any]:
    user = auth.require_user(request, request.app.state.db)
    return _dual(request).view_json(pmid, user.username, user.role)


@api.post("/drafts/{pmid}/decision",
          summary="Record your blind decision in dual review (If-Match required); the "
                  "second agreeing decision decides the draft, a disagreeing one sends it "
                  "to adjudication")
def post_decision(request: Request, pmid: str, body: VerdictBody,
                  if_match: str | None = Header(None)) -> JSONResponse:
    user = _changer(request)
    outcome = _dual(request).decide(pmid, _if_match(if_match, pmid), user.username, user.role,
                                    body.verdict())
    return JSONResponse({"outcome": outcome,
                         "review": _dual(request).view_json(pmid, user.username, user.role)})


@api.post("/drafts/{pmid}/adjudication",
          summary="Settle a disagreement (adjudicator or admin, not one of the two "
                  "curators; If-Match required); decides the draft")
def post_adjudication(request: Request, pmid: str, body: VerdictBody,
                      if_match: str | None = Header(None)) -> JSONResponse:
    user = _changer(request)
    _dual(request).adjudicate(pmid, _if_match(if_match, pmid), user.username, user.role,
                              body.verdict())
    return JSONResponse({"outcome": "adjudicated",
                         "review": _dual(request).view_json(pmid, user.username, user.role)})


@api.get("/agreement", summary="Dual-review agreement: Cohen's kappa and percent agreement "
                               "per label with 95% intervals, beside the policy's evaluation")
def agreement(request: Request) -> dict[str, Any]:
    auth.require_user(request, request.app.state.db)
    return figures(request.app.state.db, request.app.state.review.policy)
