"""Authentication: proving who is calling, once per request.

`authenticate` runs before every request: routes are denied without a valid access token unless
marked `@public`. The user's and session's state (active, role, revoked) is re-read at most
AUTH_STATE_CACHE_SECONDS after it changes, so deactivation and revocation cut access quickly.
Each process keeps the state AUTH_STATE_LOCAL_SECONDS in memory in front of the shared cache, so
most requests make no round trip for it; a revocation is seen at once by the process that made it
and within that bound by the others. The caller it proves goes into the request context
(`backend.tenancy` reads it from there).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import structlog
from flask import current_app, request
from sqlalchemy import select

from backend.auth.models import AuthSession, User
from backend.auth.tokens import INVALID_TOKEN, read_access_token
from backend.core.cache import MemoryStore, current_cache
from backend.core.context import request_context
from backend.core.errors import Unauthorized
from backend.core.extensions import db
from backend.schools import School
from backend.tenancy import AuthContext, Caller, OperatorContext, Role

LOCAL_STATES = "homeroom.auth_local_states"


@dataclass(frozen=True)
class SessionState:
    """What a request needs to know about its session beyond the token; cached briefly."""

    live: bool
    role: str | None = None
    school_id: str | None = None
    timezone: str = "UTC"
    currency: str = ""


def _state_key(session_id: uuid.UUID) -> str:
    return f"auth:session:v2:{session_id}"


def _local_states() -> MemoryStore:
    store: MemoryStore = current_app.extensions[LOCAL_STATES]
    return store


def _session_state(user_id: uuid.UUID, session_id: uuid.UUID) -> SessionState:
    """Whether the session and its user are live, with the user's current role and school."""
    settings = request_context().settings
    ttl = settings.auth_state_cache_seconds
    local_ttl = min(settings.auth_state_local_seconds, ttl)
    if not local_ttl:
        return _shared_session_state(user_id, session_id, ttl)
    key, local = _state_key(session_id), _local_states()
    state: SessionState | None = local.get(key)
    if state is None:
        state = _shared_session_state(user_id, session_id, ttl)
        local.set(key, state, local_ttl)
    return state


def _shared_session_state(user_id: uuid.UUID, session_id: uuid.UUID, ttl: int) -> SessionState:
    """The state from the shared cache, else from the database (then cached for `ttl` seconds)."""
    cache = current_cache()
    cached = cache.get_json(_state_key(session_id)) if ttl else None
    if isinstance(cached, dict):
        return SessionState(**cached)
    row = db.session.execute(
        select(
            User.is_active,
            User.role,
            User.school_id,
            AuthSession.revoked_at,
            School.timezone,
            School.currency,
        )
        .join(AuthSession, AuthSession.user_id == User.id)
        .outerjoin(School, School.id == User.school_id)  # operators have no school
        .where(AuthSession.id == session_id, User.id == user_id)
    ).one_or_none()
    if row is None or not row.is_active or row.revoked_at is not None:
        state = SessionState(live=False)
    elif row.school_id is None:
        state = SessionState(True, row.role)
    else:
        state = SessionState(True, row.role, str(row.school_id), row.timezone, row.currency)
    if ttl:
        cache.set_json(_state_key(session_id), asdict(state), ttl)
    return state


def forget_sessions(session_ids: Iterable[uuid.UUID]) -> None:
    """Drop cached session state so a revocation is seen at once: in this process, and in the
    others once their local copy (AUTH_STATE_LOCAL_SECONDS) expires."""
    cache, local = current_cache(), _local_states()
    for session_id in session_ids:
        cache.delete(_state_key(session_id))
        local.delete(_state_key(session_id))


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate() -> None:
    """Before every request: resolve the caller, or refuse with 401 unless the route is public."""
    if request.method == "OPTIONS" or request.routing_exception is not None:
        return  # CORS preflights carry no credentials; 404/405 are answered by routing
    context = request_context()
    if context.spec.public:
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized("An access token is required.")
    claims = read_access_token(context.settings, token)
    state = _session_state(claims.user_id, claims.session_id)
    school = str(claims.school_id) if claims.school_id else None
    if not state.live or state.role is None or state.school_id != school:
        raise Unauthorized(
            "The session has ended; sign in again.", headers={"WWW-Authenticate": INVALID_TOKEN}
        )
    caller: Caller
    if claims.school_id is None:
        caller = OperatorContext(claims.user_id, claims.session_id)
    else:
        caller = AuthContext(
            claims.user_id,
            claims.session_id,
            claims.school_id,
            Role(state.role),
            state.timezone,
            state.currency,
        )
    context.caller = caller
    structlog.contextvars.bind_contextvars(user_id=str(claims.user_id), school_id=school)
