"""What the request pipeline knows about a view: one typed record per route, read through one accessor.

Decorators (`@public`, `@probe`, `@rate_limit`, `@api`, `@requires`, `@idempotent`) fill the
record; the pipeline (authentication, rate limits, access log) and the OpenAPI document read it.
The record is kept in the view function's `__dict__`, which `functools.wraps` carries over to
every wrapper, so the outermost view and the function it wraps share one record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, current_app, request

F = TypeVar("F", bound=Callable[..., Any])
_RECORD = "homeroom_route"


@dataclass(frozen=True)
class RouteLimit:
    limits: str | Callable[[], str]
    key: Callable[[], str] | None = None
    deduct_when: Callable[[Response], bool] | None = None


@dataclass(frozen=True)
class ApiDoc:
    """What `@api` declared: the route's body, query and response types and its status."""

    summary: str
    response: Any  # a type or a type form (`Page[StudentOut]`, an annotated union); None: no content
    status: int
    body: type[Any] | None
    query: type[Any] | None
    optional_body: bool
    media_type: str | None = None  # a response that is not a model: HTML, JavaScript, a free document
    body_media_type: str | None = None  # a body that is not JSON (CSV): the view gets its bytes
    problems: frozenset[int] = frozenset()  # statuses this route gives beyond the ones its shape implies


@dataclass
class RouteSpec:
    public: bool = False
    probe: bool = False
    permission: str | None = None
    idempotent: bool = False
    writes: bool = False  # a GET that writes (an audit event, say): it runs in a transaction
    limits: tuple[RouteLimit, ...] = ()
    api: ApiDoc | None = None
    long_running: bool = False  # deadline LONG_REQUEST_DEADLINE_SECONDS, not REQUEST_DEADLINE_SECONDS


def long_running(view: F) -> F:
    """A route that legitimately runs long (an export, an import, a backup): its waits on the
    database end at LONG_REQUEST_DEADLINE_SECONDS instead of REQUEST_DEADLINE_SECONDS."""
    route_spec(view).long_running = True
    return view


def route_spec(view: Callable[..., Any] | None) -> RouteSpec:
    """The view's record (created empty on first use); an empty one for no view."""
    if view is None:
        return RouteSpec()
    attributes = vars(view)
    spec: RouteSpec | None = attributes.get(_RECORD)
    if spec is None:
        spec = attributes[_RECORD] = RouteSpec()
    return spec


def current_view() -> Callable[..., Any] | None:
    return current_app.view_functions.get(request.endpoint or "")


def public(view: F) -> F:
    """Reachable without an access token. Everything else is denied without one."""
    route_spec(view).public = True
    return view


def probe(view: F) -> F:
    """A probe: public, never rate limited, and out of the access log unless ACCESS_LOG_PROBES."""
    route_spec(view).probe = True
    return public(view)


def writes(view: F) -> F:
    """A GET or HEAD view that writes to the database (reads otherwise run outside a transaction)."""
    route_spec(view).writes = True
    return view


def in_transaction(view: F) -> F:
    """A GET view that writes nothing but whose reads need a transaction (a server-side cursor
    over a long result): it runs in one, like a view marked `@writes`."""
    route_spec(view).writes = True
    return view


def is_public(view: Callable[..., Any] | None) -> bool:
    return route_spec(view).public


def rate_limit(
    limits: str | Callable[[], str],
    *,
    key: Callable[[], str] | None = None,
    deduct_when: Callable[[Response], bool] | None = None,
) -> Callable[[F], F]:
    """Give a view a limit of its own on top of the default (e.g. "5 per minute;20 per hour").

    `limits` may be a function returning the limit string (read from the settings per request);
    `key` counts against something other than the caller (an account name, say); `deduct_when`
    counts only the responses it accepts (failed logins, say).
    """

    def mark(view: F) -> F:
        spec = route_spec(view)
        spec.limits = (*spec.limits, RouteLimit(limits, key, deduct_when))
        return view

    return mark
