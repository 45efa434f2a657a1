"""The request context: what the pipeline learns about a request, resolved once and read everywhere.

`core/http.py` builds it first thing in every request (the request id, the view's route record,
the settings, the start time); authentication fills `caller`. Everything after that (the rate
limiter's key, the access log, idempotency, the session's read-only switch, `backend.tenancy`)
reads this one object instead of looking the same things up again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import g, has_request_context

from backend.config import Settings
from backend.core.markers import RouteSpec

_CONTEXT = "homeroom_request"


class Principal(Protocol):
    """Whoever is calling, as the pipeline needs it; `backend.tenancy` defines the real callers."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def school_id(self) -> uuid.UUID | None: ...


@dataclass(slots=True)
class RequestContext:
    request_id: str
    started_at: float
    settings: Settings
    view: Callable[..., Any] | None
    spec: RouteSpec
    reads_only: bool  # GET/HEAD to a view that does not write: no transaction (core/session.py)
    traceparent: str | None = None
    caller: Principal | None = None  # set by authentication; None on public routes


def begin(context: RequestContext) -> None:
    setattr(g, _CONTEXT, context)


def request_context() -> RequestContext:
    """This request's context; a programming error outside a request (or before the pipeline)."""
    context: RequestContext | None = g.get(_CONTEXT)
    if context is None:
        raise RuntimeError("no request context: outside a request, or before the pipeline started")
    return context


def maybe_request_context() -> RequestContext | None:
    """The context when inside a request that the pipeline has started, else None."""
    return g.get(_CONTEXT) if has_request_context() else None


def current_request_id() -> str | None:
    """The request id when inside a started request (error bodies, audit events, Sentry tags)."""
    context = maybe_request_context()
    return context.request_id if context is not None else None
