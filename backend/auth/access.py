"""Who is calling, and what they may do: the public API of auth for every other feature.

- `authenticate` runs before every request: routes are denied without a valid access token unless
  marked `@public`. The user's and session's state (active, role, revoked) is re-read at most
  AUTH_STATE_CACHE_SECONDS after it changes, so deactivation and revocation cut access quickly.
- `@requires("permission")` checks the caller's role against the one permission table.
- `scoped(Model)` starts every query on school-owned rows, filtered by the caller's school.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import structlog
from flask import Flask, g, request
from sqlalchemy import Select, select

from backend.auth.models import AuthSession, User
from backend.auth.permissions import PERMISSIONS, Role, allowed
from backend.auth.tokens import INVALID_TOKEN, read_access_token
from backend.config import current_settings
from backend.core.cache import current_cache
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.markers import current_view, is_public
from backend.core.models import TenantOwned
from backend.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=TenantOwned)


@dataclass(frozen=True)
class AuthContext:
    user_id: uuid.UUID
    session_id: uuid.UUID
    school_id: uuid.UUID
    role: Role


def _state_key(session_id: uuid.UUID) -> str:
    return f"auth:session:{session_id}"


def _session_state(user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
    """Whether the session and its user are live, with the user's current role and school."""
    ttl = current_settings().auth_state_cache_seconds
    cache = current_cache()
    state: dict[str, Any] | None = cache.get_json(_state_key(session_id)) if ttl else None
    if state is None:
        row = db.session.execute(
            select(User.is_active, User.role, User.school_id, AuthSession.revoked_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.id == session_id, User.id == user_id)
        ).one_or_none()
        live = row is not None and row.is_active and row.revoked_at is None
        state = {
            "live": live,
            "role": row.role if live else None,
            "school": str(row.school_id) if live else None,
        }
        if ttl:
            cache.set_json(_state_key(session_id), state, ttl)
    return state


def forget_sessions(session_ids: Iterable[uuid.UUID]) -> None:
    """Drop cached session state so a revocation is seen at once (where the cache is shared)."""
    cache = current_cache()
    for session_id in session_ids:
        cache.delete(_state_key(session_id))


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
    if not state["live"] or state["school"] != str(claims.school_id):
        raise Unauthorized(
            "The session has ended; sign in again.", headers={"WWW-Authenticate": INVALID_TOKEN}
        )
    g.auth = AuthContext(claims.user_id, claims.session_id, claims.school_id, Role(state["role"]))
    g.user_id, g.school_id = claims.user_id, claims.school_id
    structlog.contextvars.bind_contextvars(user_id=str(claims.user_id), school_id=str(claims.school_id))


def current_auth() -> AuthContext:
    auth: AuthContext | None = g.get("auth")
    if auth is None:
        raise Unauthorized("An access token is required.")
    return auth


def requires(permission: str) -> Callable[[F], F]:
    """Allow the view only to roles that hold `permission` in the permission table."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_auth().role, permission):
                raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def scoped(model: type[M]) -> Select[tuple[M]]:
    """`SELECT model` limited to the caller's school: where every school-owned query starts."""
    return select(model).where(model.school_id == current_auth().school_id)


def get_scoped(model: type[M], object_id: uuid.UUID, name: str) -> M:
    """One row of the caller's school, or 404 (another school's row is not confirmed to exist)."""
    row = db.session.scalar(scoped(model).where(model.id == object_id))  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"{name} not found.")
    return row


def unprotected_routes(app: Flask) -> list[str]:
    """Rules whose view is neither public nor guarded by a permission (the route audit)."""
    problems = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if not is_public(view) and getattr(view, "permission", None) is None:
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            problems.append(f"{methods} {rule.rule} ({rule.endpoint})")
    return problems


def init_auth(app: Flask) -> None:
    app.before_request(authenticate)
