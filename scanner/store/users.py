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
    """The user row when the password is right and the account enabled, else None."""
    user = find_user(conn, username)
    if not verify_password(user, password) or user is None:
        return None
    new_hash = rehash(user, password)
    if new_hash is not None:
        store_rehash(conn, user.id, new_hash)
    return user


def find_user(conn: Connection, username: str) -> Row[Any] | None:
    """The account row for a sign-in (a read; the hash is verified outside any transaction)."""
    return conn.execute(select(User.__table__).where(User.username == username)).first()


def verify_password(user: Row[Any] | None, password: str) -> bool:
    """Whether ``password`` is right for an enabled ``user``; slow on purpose (Argon2), so
    callers run it outside every transaction. A missing user costs the same time."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and not user.disabled


def rehash(user: Row[Any], password: str) -> str | None:
    """A new hash when the stored one uses outdated parameters, else None."""
    if _hasher.check_needs_rehash(user.password_hash):
        return _hasher.hash(password)
    return None


def store_rehash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


def sign_in(db: Database, username: str, password: str, hours: float,
            idle_minutes: float | None = None) -> tuple[Row[Any], str, str] | None:
    """Read the account, check the password outside any transaction (a reader's lock
    held through argon2 would stall writers on SQLite's rollback journal), then start a
    session (rehashing an outdated hash, computed beforehand) in a short write
    transaction: (user, token, csrf). The web app (``review/login.py``) calls it on its
    hashing thread, with the throttle in front."""
    with db.read() as conn:
        user = find_user(conn, username)
    if not verify_password(user, password) or user is None:
        return None
    rehashed = rehash(user, password)
    with db.write() as conn:
        if conn.execute(select(User.disabled).where(User.id == user.id)).scalar() is not False:
            return None  # disabled (or removed) meanwhile
        if rehashed is not None:
            store_rehash(conn, user.id, rehashed)
        token, csrf = start_session(conn, user.id, hours, idle_minutes)
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


def start_session(conn: Connection, user_id: int, hours: float,
                  idle_minutes: float | None = None) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token).

    ``expires_at`` is the idle deadline: ``idle_minutes`` from the last use (pushed on by
    :func:`touch_session`), never past ``created_at + hours``.
    """
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(delete(WebSession).where(WebSession.expires_at < now))
    life = dt.timedelta(hours=hours)
    if idle_minutes is not None:
        life = min(life, dt.timedelta(minutes=idle_minutes))
    conn.execute(insert(WebSession).values(
        token_sha256=_digest(token), user_id=user_id, csrf_token=csrf, created_at=now,
        expires_at=now + life))
    return token, csrf


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def session_user(conn: Connection, token: str) -> Any:
    """(user id, username, role, csrf_token, created_at, expires_at) of a live session,
    or None."""
    row = conn.execute(
        select(User.id, User.username, User.role, WebSession.csrf_token,
               WebSession.created_at, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_sha256 == _digest(token), User.disabled.is_(False))).first()
    if row is None:
        return None
    return row if _aware(row.expires_at) > utcnow() else None


def idle_deadline(row: Any, hours: float, idle_minutes: float) -> dt.datetime | None:
    """The session's new idle deadline when it should be pushed on (more than a minute
    of it used up), else None."""
    now = utcnow()
    deadline = min(now + dt.timedelta(minutes=idle_minutes),
                   _aware(row.created_at) + dt.timedelta(hours=hours))
    if deadline - _aware(row.expires_at) < dt.timedelta(minutes=1):
        return None
    return deadline


def touch_session(conn: Connection, token: str, deadline: dt.datetime) -> None:
    conn.execute(update(WebSession).where(WebSession.token_sha256 == _digest(token))
                 .values(expires_at=deadline))


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))
