"""Accounts of the review app and their signed-in sessions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended parameter set). A session cookie holds a random token; the store keeps only
its sha256, so a copy of the database cannot be used to sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, delete, insert, select, update

from ..errors import ReviewError
from .db import Database
from .models import User, WebSession
from .runs import utcnow

ROLES = ("curator", "adjudicator", "admin")
#: who may adjudicate a dual-review disagreement (admins hold every role of the app)
ADJUDICATORS = ("adjudicator", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,79}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()      # Argon2id
# Verified against when the user does not exist, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not a real password")


def add_user(conn: Connection, username: str, password: str, role: str) -> int:
    if not USERNAME.match(username):
        raise ReviewError(f"invalid username {username!r}: 2-80 letters, digits, . _ @ -")
    if role not in ROLES:
        raise ReviewError(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ReviewError(f"password too short: at least {MIN_PASSWORD} characters")
    if conn.execute(select(User.id).where(User.username == username)).first() is not None:
        raise ReviewError(f"user {username!r} already exists")
    return int(conn.execute(insert(User).values(
        username=username, password_hash=_hasher.hash(password), role=role, disabled=False,
        created_at=utcnow()).returning(User.id)).scalar_one())


def authenticate(conn: Connection, username: str, password: str) -> Row[Any] | None:
    """The user row when the password is right and the account enabled, else None.

    The argon2 check takes CPU time (seconds when many curators sign in at once): the
    web app signs in with :func:`sign_in`, which holds no transaction meanwhile.
    """
    user = conn.execute(select(User.__table__).where(User.username == username)).first()
    return user if _password_ok(user, password) else None


def _password_ok(user: Row[Any] | None, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and not user.disabled


def sign_in(db: Database, username: str, password: str,
            hours: float) -> tuple[Row[Any], str, str] | None:
    """Read the account, check the password outside any transaction (a reader's lock
    held through argon2 would stall writers on SQLite's rollback journal), then start a
    session (rehashing an outdated hash, computed beforehand) in a short write
    transaction: (user, token, csrf)."""
    with db.read() as conn:
        user = conn.execute(select(User.__table__).where(User.username == username)).first()
    if not _password_ok(user, password) or user is None:
        return None
    rehashed = (_hasher.hash(password) if _hasher.check_needs_rehash(user.password_hash)
                else None)
    with db.write() as conn:
        if conn.execute(select(User.disabled).where(User.id == user.id)).scalar() is not False:
            return None  # disabled (or removed) meanwhile
        if rehashed is not None:
            conn.execute(update(User).where(User.id == user.id)
                         .values(password_hash=rehashed))
        token, csrf = start_session(conn, user.id, hours)
    return user, token, csrf


def list_users(conn: Connection) -> list[Any]:
    return list(conn.execute(select(User.id, User.username, User.role, User.disabled,
                                    User.created_at).order_by(User.username)).all())


def set_disabled(conn: Connection, username: str, disabled: bool) -> None:
    result = conn.execute(update(User).where(User.username == username)
                          .values(disabled=disabled))
    if result.rowcount != 1:
        raise ReviewError(f"no user {username!r}")
    if disabled:
        ids = select(User.id).where(User.username == username).scalar_subquery()
        conn.execute(delete(WebSession).where(WebSession.user_id == ids))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, user_id: int, hours: float) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(delete(WebSession).where(WebSession.expires_at < now))
    conn.execute(insert(WebSession).values(
        token_sha256=_digest(token), user_id=user_id, csrf_token=csrf, created_at=now,
        expires_at=now + dt.timedelta(hours=hours)))
    return token, csrf


def session_user(conn: Connection, token: str) -> Any:
    """(user id, username, role, csrf_token) of a live session, or None."""
    row = conn.execute(
        select(User.id, User.username, User.role, WebSession.csrf_token, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_sha256 == _digest(token), User.disabled.is_(False))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    return row if expires > utcnow() else None


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))
