"""Who is asking, and whether the request came from the app's own pages.

Sessions live in the store (``web_sessions``); the cookie is HttpOnly, SameSite=Lax and
Secure. Every state-changing request must carry the session's CSRF token (a hidden form
field, or the ``X-CSRF-Token`` header for the JSON API) and must not come from another
origin. The sign-in form, which has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from ..errors import PermissionDeniedError, ReviewError, StoreError
from ..store import users
from ..store.db import Database

SESSION_COOKIE = "scanner_session"
LOGIN_COOKIE = "scanner_login"


class CsrfError(PermissionDeniedError):
    """A state-changing request without a valid token, or from another site."""


class SignInRequired(ReviewError):
    """No valid session: pages redirect to the sign-in form, the API answers 401."""

    http_status = 401


@dataclass(frozen=True)
class Curator:
    id: int
    username: str
    role: str
    csrf_token: str
    session_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def current_user(request: Request, db: Database) -> Curator | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with db.read() as conn:
        row = users.session_user(conn, token)
    if row is None:
        return None
    review = request.app.state.settings.review
    deadline = users.idle_deadline(row, review.session_hours, review.idle_minutes)
    if deadline is not None:    # in use: push the idle deadline on (at most once a minute)
        try:
            with db.write() as conn:
                users.touch_session(conn, token, deadline)
        except StoreError:      # a read-only or full store still shows its pages
            pass
    return Curator(row.id, row.username, row.role, row.csrf_token, token)


def require_user(request: Request, db: Database, role: str | None = None) -> Curator:
    user = current_user(request, db)
    if user is None:
        raise SignInRequired("sign in first")
    if role == "admin" and not user.is_admin:
        raise PermissionDeniedError("this needs an admin account")
    return user


def check_origin(request: Request) -> None:
    """Refuse a request whose Origin (or Referer) is another site than this app."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfError("refused: the request came from another site")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        if origin == "null":
            raise CsrfError("refused: the request came from an opaque origin")
        return
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    if parts.netloc != host:
        raise CsrfError("refused: the request came from another origin")


def check_csrf(request: Request, user: Curator, token: str | None) -> None:
    check_origin(request)
    given = token or request.headers.get("x-csrf-token") or ""
    if not given or not hmac.compare_digest(given, user.csrf_token):
        raise CsrfError("refused: the form's security token is missing or out of date; "
                        "reload the page and try again (nothing was changed)")


def login_token() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, token: str | None) -> None:
    check_origin(request)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not token or not cookie or not hmac.compare_digest(token, cookie):
        raise CsrfError("refused: the sign-in form expired; reload the page and try again")
