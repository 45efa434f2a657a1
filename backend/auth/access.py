"""Who is calling, and what they may do: the public API of auth for every other feature.

- `authenticate` runs before every request: routes are denied without a valid access token unless
  marked `@public`. The user's and session's state (active, role, revoked) is re-read at most
  AUTH_STATE_CACHE_SECONDS after it changes, so deactivation and revocation cut access quickly.
  Each process keeps the state AUTH_STATE_LOCAL_SECONDS in memory in front of the shared cache,
  so most requests make no round trip for it; a revocation is seen at once by the process that
  made it and within that bound by the others.
- `@requires("permission")` checks the caller's role against the one permission table.
- `AuthContext` is the caller every service receives; `auth.scoped(Model)` starts every query on
  school-owned rows, filtered by the caller's school.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from functools import wraps
from typing import Any, TypeVar

import structlog
from flask import Flask, current_app, g, request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, select

from backend.auth.models import AuthSession, User
from backend.auth.permissions import PERMISSIONS, Role, allowed
from backend.auth.tokens import INVALID_TOKEN, read_access_token
from backend.config import current_settings
from backend.core.cache import MemoryStore, current_cache
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.markers import current_view, is_public, route_spec
from backend.core.models import Base
from backend.extensions import db
from backend.schools.models import School
from backend.schools.service import today_in

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=Base)
LOCAL_STATES = "homeroom.auth_local_states"


@dataclass(frozen=True)
class AuthContext:
    """The signed-in caller, passed to every service: who, in which school, in what role, and the
    school's facts (its time zone and currency) that answers depend on."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    school_id: uuid.UUID
    role: Role
    timezone: str
    currency: str

    def today(self) -> date:
        """Today in the school's time zone."""
        return today_in(self.timezone)

    def owns(self, model: type[Base]) -> ColumnElement[bool]:
        """The condition "this row is the caller's school's", for joins and subqueries."""
        return model.__table__.c.school_id == self.school_id

    def scoped(self, model: type[M]) -> Select[M]:
        """`SELECT model` limited to the caller's school: where every school-owned query starts."""
        return select(model).where(self.owns(model))

    def scoped_columns(self, model: type[Base], shape: type[BaseModel]) -> Select[Any]:
        """`SELECT` of just the columns `shape` (an output model) names, limited to the caller's
        school: for lists, whose rows go straight into the response type without ORM objects."""
        columns = model.__table__.c
        return select(*(columns[name] for name in shape.model_fields)).where(self.owns(model))

    def get_scoped(self, model: type[M], object_id: uuid.UUID, name: str) -> M:
        """One row of the caller's school, or 404 (another school's row is not confirmed to exist)."""
        row = db.session.scalar(self.scoped(model).where(model.__table__.c.id == object_id))
        if row is None:
            raise NotFound(f"{name} not found.")
        return row


@dataclass(frozen=True)
class OperatorContext:
    """A signed-in platform operator: no school, so no school-scoped query can be built for them."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    role: Role = Role.OPERATOR
    school_id: None = None


Caller = AuthContext | OperatorContext


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
    settings = current_settings()
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
    if is_public(current_view()):
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized("An access token is required.")
    claims = read_access_token(current_settings(), token)
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
    g.caller = caller
    g.user_id, g.school_id = claims.user_id, claims.school_id
    structlog.contextvars.bind_contextvars(user_id=str(claims.user_id), school_id=school)


def current_caller() -> Caller:
    """Whoever signed in: a school user (`AuthContext`) or an operator (`OperatorContext`)."""
    caller: Caller | None = g.get("caller")
    if caller is None:
        raise Unauthorized("An access token is required.")
    return caller


def current_auth() -> AuthContext:
    """The signed-in school user. Routes of school data reach this only after `@requires`, which
    no operator permission passes; an operator here is refused all the same."""
    caller = current_caller()
    if not isinstance(caller, AuthContext):
        raise Forbidden("Operators have no access to school records.")
    return caller


def current_operator() -> OperatorContext:
    caller = current_caller()
    if not isinstance(caller, OperatorContext):
        raise Forbidden("Only platform operators may do this.")
    return caller


def requires(permission: str) -> Callable[[F], F]:
    """Allow the view only to roles that hold `permission` in the permission table."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_caller().role, permission):
                raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        route_spec(guarded).permission = permission
        return guarded  # type: ignore[return-value]  # wraps() keeps the view's signature

    return decorate


def unprotected_routes(app: Flask) -> list[str]:
    """Rules whose view is neither public nor guarded by a permission (the route audit)."""
    problems = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        spec = route_spec(view)
        if not spec.public and spec.permission is None:
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            problems.append(f"{methods} {rule.rule} ({rule.endpoint})")
    return problems
