"""Signing in and out: sessions, token rotation with reuse detection, password changes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, cast

import structlog
from flask import Flask, current_app
from sqlalchemy import CursorResult, select, update

from backend import audit
from backend.auth.access import forget_sessions
from backend.auth.models import AuthSession, RefreshToken, User
from backend.auth.password_policy import policy_problem, words_about_user
from backend.auth.passwords import Passwords
from backend.auth.schemas import ChildOut, MeOut, SchoolOut, UserOut, normalise_email
from backend.auth.tokens import (
    INVALID_TOKEN,
    hash_secret_token,
    issue_access_token,
    new_secret_token,
    open_successor,
    seal_successor,
)
from backend.config import current_settings
from backend.core import metrics
from backend.core.errors import NotFound, Unauthorized, ValidationFailed
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.schools import School
from backend.tenancy import AuthContext, Caller, Role

log = structlog.get_logger("homeroom.auth")
PASSWORDS_EXTENSION = "homeroom.passwords"
BAD_CREDENTIALS = "Invalid email or password."
BAD_REFRESH = "The refresh token is invalid or has expired; sign in again."


@dataclass(frozen=True)
class Client:
    """Where a sign-in comes from, kept on the session."""

    user_agent: str | None
    ip_address: str | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    user: User


def password_hasher() -> Passwords:
    hasher: Passwords = current_app.extensions[PASSWORDS_EXTENSION]
    return hasher


def _issue(user: User, session: AuthSession, now: datetime, refresh: str | None = None) -> IssuedTokens:
    """A new refresh token (`refresh`, else a fresh one) in the session's family and an access
    token for it; the caller commits."""
    settings = current_settings()
    refresh = refresh or new_secret_token()
    db.session.add(
        RefreshToken(
            session_id=session.id,
            token_hash=hash_secret_token(refresh),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_ttl_days),
        )
    )
    return _answer(user, session, refresh, now)


def _answer(user: User, session: AuthSession, refresh: str, now: datetime) -> IssuedTokens:
    """A new access token for the session, sent with the refresh token `refresh`."""
    settings = current_settings()
    access = issue_access_token(
        settings, user_id=user.id, session_id=session.id, school_id=user.school_id, role=user.role, now=now
    )
    return IssuedTokens(access, settings.access_token_ttl_seconds, refresh, user)


def login(email: str, password: str, client: Client) -> IssuedTokens:
    """Check the credentials and open a session. Unknown email, wrong password and an inactive
    account all get the same answer after the same amount of work (and a 503 alike when every
    hashing slot stays busy)."""
    now = utcnow()
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    valid, upgraded = password_hasher().verify_and_update(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        if user is not None:
            user.failed_login_count += 1
            user.last_failed_login_at = now
            audit.record(
                None,
                "auth.login_failed",
                resource_type="user",
                resource_id=user.id,
                school_id=user.school_id,
                changes={"failed_login_count": user.failed_login_count},
            )
        else:
            audit.record(None, "auth.login_failed", changes={"account": _account_digest(email)})
        db.session.commit()
        metrics.LOGIN_FAILURES.inc()
        log.info("login_failed", user_id=str(user.id) if user else None)
        raise Unauthorized(BAD_CREDENTIALS)
    if upgraded is not None:  # made with other argon2 parameters: stored anew, with the session
        user.password_hash = upgraded
    return open_session(user, client)


def open_session(user: User, client: Client) -> IssuedTokens:
    """Sign `user` in: a new session and its tokens, audited, committed."""
    now = utcnow()
    user.failed_login_count = 0
    user.last_login_at = now
    session = AuthSession(
        user_id=user.id,
        last_used_at=now,
        user_agent=(client.user_agent or "")[:200] or None,
        ip_address=client.ip_address,
    )
    db.session.add(session)
    db.session.flush()
    tokens = _issue(user, session, now)
    audit.record(
        acting_user(user),
        "auth.login",
        resource_type="user",
        resource_id=user.id,
        changes={"session_id": session.id},
    )
    db.session.commit()
    log.info("login", user_id=str(user.id), session_id=str(session.id))
    return tokens


def acting_user(user: User) -> audit.ActingUser:
    """The user as the actor of an event recorded before (or without) an authenticated request."""
    return audit.ActingUser(user.id, user.role, user.school_id)


def _account_digest(email: str) -> str:
    """An unknown account is recorded by a digest of the name tried, not the name itself."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:16]


def _revoke(sessions: list[AuthSession], reason: str, now: datetime) -> None:
    for session in sessions:
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = now, reason


def _bad_refresh() -> Unauthorized:
    return Unauthorized(BAD_REFRESH, headers={"WWW-Authenticate": INVALID_TOKEN})


def refresh(token: str) -> IssuedTokens:
    """Rotate: the presented token is spent and a new one issued. The same token presented again
    within REFRESH_REUSE_SECONDS of its rotation (two tabs, a retried request) gets the same new
    token, while that one is unspent; any other reuse means the token was copied: the whole
    session is revoked."""
    now = utcnow()
    row = db.session.execute(
        select(RefreshToken, AuthSession, User)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(RefreshToken.token_hash == hash_secret_token(token))
    ).one_or_none()
    if row is None:
        raise _bad_refresh()
    stored, session, user = row
    if session.revoked_at is not None or not user.is_active or stored.expires_at <= now:
        raise _bad_refresh()
    successor = new_secret_token()
    # Spend the token atomically: of concurrent refreshes with it, exactly one rotates it. The
    # others wait for its commit (the row's lock; SQLite's write lock) and then find the same
    # successor, sealed in the same statement.
    result = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now, successor_sealed=seal_successor(successor, predecessor=token))
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:  # an UPDATE's result is a cursor result
        return _repeat(token, stored.id, session, user)
    # Only the newest rotation may be answered again: older generations lose their sealed successor.
    older = (RefreshToken.session_id == session.id, RefreshToken.id != stored.id)
    db.session.execute(
        update(RefreshToken)
        .where(*older, RefreshToken.successor_sealed.is_not(None))
        .values(successor_sealed=None)
        .execution_options(synchronize_session=False)
    )
    session.last_used_at = now
    tokens = _issue(user, session, now, successor)
    db.session.commit()
    return tokens


def _repeat(token: str, token_id: uuid.UUID, session: AuthSession, user: User) -> IssuedTokens:
    """`token` was rotated already. Within the reuse interval of that rotation, and while the token
    it was replaced by is unspent, the answer is that same token (and an access token for the
    session); otherwise the token was copied and the session ends."""
    now = utcnow()
    used_at, sealed = db.session.execute(
        select(RefreshToken.used_at, RefreshToken.successor_sealed).where(RefreshToken.id == token_id)
    ).one()
    successor = open_successor(sealed, predecessor=token) if sealed else None
    interval = timedelta(seconds=current_settings().refresh_reuse_seconds)
    if successor is None or used_at is None or now - used_at >= interval or not _live(successor, now):
        _reuse_detected(session, user, now)
    db.session.commit()  # nothing written: ends the transaction the spending attempt began
    log.info("refresh_repeated", user_id=str(user.id), session_id=str(session.id))
    return _answer(user, session, successor, now)


def _live(token: str, now: datetime) -> bool:
    """Whether `token` is a stored refresh token that is neither spent nor expired."""
    unspent = (RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
    found = db.session.scalar(
        select(RefreshToken.id).where(RefreshToken.token_hash == hash_secret_token(token), *unspent)
    )
    return found is not None


def _reuse_detected(session: AuthSession, user: User, now: datetime) -> NoReturn:
    """A spent token came back outside its reuse interval: it was copied. The session ends."""
    _revoke([session], "reuse_detected", now)
    audit.record(acting_user(user), "auth.refresh_reuse", resource_type="session", resource_id=session.id)
    db.session.commit()
    forget_sessions([session.id])
    metrics.REFRESH_REUSE.inc()
    log.warning("refresh_token_reuse", user_id=str(user.id), session_id=str(session.id))
    raise _bad_refresh()


def logout(*, refresh_token: str | None = None, session_id: uuid.UUID | None = None) -> None:
    """End one session, named by its refresh token or its id. Unknown ones are ignored."""
    if refresh_token is not None:
        token_hash = hash_secret_token(refresh_token)
        session_id = db.session.scalar(
            select(RefreshToken.session_id).where(RefreshToken.token_hash == token_hash)
        )
    if session_id is None:
        return
    session = db.session.get(AuthSession, session_id)
    if session is not None:
        _revoke([session], "logout", utcnow())
        user = db.session.get_one(User, session.user_id)
        audit.record(
            acting_user(user),
            "auth.logout",
            resource_type="session",
            resource_id=session.id,
        )
        db.session.commit()
        forget_sessions([session.id])


def revoke_user_sessions(
    user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Revoke every live session of a user (but `keep`). The caller commits, then passes the
    returned ids to `forget_sessions`, so that no request re-caches the old state in between."""
    sessions = [
        session
        for session in db.session.scalars(
            select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        )
        if session.id != keep
    ]
    _revoke(sessions, reason, utcnow())
    return [session.id for session in sessions]


def logout_all(auth: Caller) -> int:
    revoked = revoke_user_sessions(auth.user_id, "logout_all")
    audit.record(
        auth,
        "auth.logout_all",
        resource_type="user",
        resource_id=auth.user_id,
        changes={"sessions_ended": len(revoked)},
    )
    db.session.commit()
    forget_sessions(revoked)
    return len(revoked)


def change_password(auth: Caller, current: str, new: str) -> None:
    """Replace the password; every other session of the user ends, this one goes on."""
    user = db.session.get_one(User, auth.user_id)
    hasher = password_hasher()
    if not hasher.verify(user.password_hash, current):
        raise ValidationFailed.on("body.current_password", "Incorrect password.", "incorrect_password")
    problem = policy_problem(new, words_about_user(user))
    if problem is None and new == current:
        problem = "Choose a password different from the current one."
    if problem:
        raise ValidationFailed.on("body.new_password", problem, "password_policy")
    user.password_hash = hasher.hash(new)
    user.password_changed_at = utcnow()
    revoked = revoke_user_sessions(user.id, "password_changed", keep=auth.session_id)
    audit.record(
        auth,
        "auth.password_change",
        resource_type="user",
        resource_id=user.id,
        changes={"sessions_ended": len(revoked)},
    )
    db.session.commit()
    forget_sessions(revoked)


_CHILDREN = "homeroom.auth_linked_children"
ChildrenOf = Callable[[AuthContext], list[ChildOut]]


def provide_children(app: Flask, children_of: ChildrenOf) -> None:
    """`backend.students` gives the profile a parent's linked children at start-up (students build
    on auth, so auth does not import them)."""
    app.extensions[_CHILDREN] = children_of


def profile(caller: Caller) -> MeOut:
    """The caller, their school and role; for a parent, the children linked to them."""
    row = db.session.execute(
        select(User, School).outerjoin(School, School.id == User.school_id).where(User.id == caller.user_id)
    ).one_or_none()
    if row is None:
        raise NotFound("User not found.")
    user, school = row
    parent = isinstance(caller, AuthContext) and caller.role == Role.PARENT
    children = current_app.extensions[_CHILDREN](caller) if parent else None
    return MeOut(
        user=UserOut.model_validate(user),
        school=None if school is None else SchoolOut.model_validate(school),
        role=caller.role,
        children=children,
    )
