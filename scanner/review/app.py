"""The curators' review app (FastAPI): server-rendered pages plus a JSON API.

``create_app`` builds it over one database; ``scanner serve`` runs it under uvicorn.
Every error a route raises on purpose is a :class:`~scanner.errors.ReviewError` carrying
its HTTP status, turned into a page or a JSON body by one handler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from classifiers.policy import Policy

from .. import __version__
from ..config import Settings
from ..errors import ReviewError, StaleDraftError, StoreError
from ..logs import kv
from ..store.db import POOL_CAPACITY, Database
from . import api, dual_routes, pages, upload
from . import public as public_routes
from .auth import SignInRequired, current_user
from .dual import DualReview
from .login import TooManyAttempts
from .service import Review
from .validate import BodyGuard

HERE = Path(__file__).parent
log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings, db: Database, policy: Policy) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync handlers run in anyio's thread pool (40 threads); with fewer pooled
        # connections a burst of curators timed out waiting for one (benchmarks/load.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_CAPACITY
        yield

    app = FastAPI(title="ME/CFS evidence scanner: review API", version=__version__,
                  lifespan=lifespan,
                  description="Curators' review of evidence drafts. Sign in with POST "
                              "/api/session; send the returned csrf_token as X-CSRF-Token "
                              "and the draft's ETag as If-Match on every change.",
                  # No /api/docs: Swagger UI loads from a CDN that the app's CSP blocks;
                  # the OpenAPI document itself stays at /api/openapi.json.
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.settings = settings
    app.state.db = db
    app.state.review = Review(settings, db, policy)
    app.state.dual = DualReview(app.state.review)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["scanner_version"] = __version__
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(upload.router)   # before pages: /papers/{pmid}/fulltext
    app.include_router(dual_routes.pages)     # before pages' /papers/{pmid}/{action}
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(dual_routes.api)
    app.include_router(public_routes.router)   # /evidence/ (public), contributions
    review = settings.review
    app.add_middleware(BodyGuard, max_body_bytes=review.max_body_bytes,
                       max_field_chars=review.max_field_chars)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        # Server time of the request, for operators and benchmarks/review.py.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, exc: ReviewError) -> Response:
        log.info(kv("review_error", path=request.url.path, status=exc.http_status,
                    error=str(exc)))
        if request.url.path.startswith("/api/"):
            body: dict[str, Any] = {"detail": str(exc)}
            if isinstance(exc, StaleDraftError):
                body |= {"current_version": exc.current_version, "changes": exc.changes}
            headers = {"Retry-After": str(exc.retry_after)} \
                if isinstance(exc, TooManyAttempts) else None
            return JSONResponse(body, status_code=_api_status(request, exc), headers=headers)
        if isinstance(exc, SignInRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        user = current_user(request, db)
        return templates.TemplateResponse(request, "error.html", {
            "user": user, "message": str(exc), "status": exc.http_status},
            status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(request, "error.html", {
            "user": current_user(request, db), "message": exc.detail,
            "status": exc.status_code}, status_code=exc.status_code)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        log.error(kv("review_store_error", path=request.url.path, error=str(exc)))
        message = f"the database cannot be used right now: {exc}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=503)
        return templates.TemplateResponse(request, "error.html", {
            "user": None, "message": message, "status": 503}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The input is never echoed back: it may be what cannot be encoded.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: "
            f"{e.get('msg', 'invalid')}" for e in exc.errors())
        log.info(kv("invalid_request", path=request.url.path, error=problems))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": problems}, status_code=422)
        return templates.TemplateResponse(request, "error.html", {
            "user": current_user(request, db), "message": f"invalid request: {problems}",
            "status": 422}, status_code=422)

    return app


def _api_status(request: Request, exc: ReviewError) -> int:
    """A stale change is 412 when it came with If-Match (HTTP's precondition), else 409."""
    if isinstance(exc, StaleDraftError) and request.headers.get("if-match"):
        return 412
    return exc.http_status
