"""The request context: what the pipeline learns about a request, resolved once and read everywhere.

`core/http.py` builds it first thing in every request (the request id, the view's route record,
the settings, the start time); authentication fills `caller`. Everything after that (the rate
limiter's key, the access log, idempotency, the session's read-only switch, `backend.tenancy`)
reads this one object instead of looking the same things up again.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


@dataclass(frozen=True, slots=True)
class RowScope:
    """What a PostgreSQL connection may see (core/db/row_security.py): one school's rows, every
    school's for a named platform task, or (as the schema owner) everything, schema included."""

    school_id: str = ""
    platform: str = ""
    owner: bool = False


NO_ROWS = RowScope()


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
    # time.perf_counter() by which the request must be answered: its waits on the database end then
    deadline: float = math.inf
    # The rows a named platform-wide task inside this request may see (core/db/row_security.py)
    row_scope_override: RowScope | None = None

    def time_left(self) -> float:
        """Seconds until this request's deadline (negative once it has passed)."""
        return self.deadline - time.perf_counter()


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


_DEADLINE: ContextVar[float] = ContextVar("homeroom_deadline", default=math.inf)


@contextmanager
def deadline_at(until: float) -> Iterator[None]:
    """Outside a request (a health check's thread, say): the block's waits on the database end at
    `until` (time.perf_counter()), as a request's do at its deadline."""
    token = _DEADLINE.set(until)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline (a request's, or `deadline_at`'s); None: none."""
    context = maybe_request_context()
    deadline = context.deadline if context is not None else _DEADLINE.get()
    return None if deadline == math.inf else deadline - time.perf_counter()


def current_request_id() -> str | None:
    """The request id when inside a started request (error bodies, audit events, Sentry tags)."""
    context = maybe_request_context()
    return context.request_id if context is not None else None
