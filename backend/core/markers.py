"""Markers on view functions that the request pipeline reads (kept free of other imports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, current_app, request

F = TypeVar("F", bound=Callable[..., Any])


def current_view() -> Callable[..., Any] | None:
    return current_app.view_functions.get(request.endpoint or "")


def public(view: F) -> F:
    """Reachable without an access token. Everything else is denied without one."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def probe(view: F) -> F:
    """A probe: public, never rate limited, and out of the access log unless ACCESS_LOG_PROBES."""
    view.is_probe = True  # type: ignore[attr-defined]
    return public(view)


def is_public(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "is_public", False))


def is_probe_request() -> bool:
    return bool(getattr(current_view(), "is_probe", False))


@dataclass(frozen=True)
class RouteLimit:
    limits: str
    key: Callable[[], str] | None = None
    deduct_when: Callable[[Response], bool] | None = None


def rate_limit(
    limits: str,
    *,
    key: Callable[[], str] | None = None,
    deduct_when: Callable[[Response], bool] | None = None,
) -> Callable[[F], F]:
    """Give a view a limit of its own on top of the default (e.g. "5 per minute;20 per hour").

    `key` counts against something other than the caller (an account name, say); `deduct_when`
    counts only the responses it accepts (failed logins, say).
    """

    def mark(view: F) -> F:
        existing = getattr(view, "rate_limits", ())
        view.rate_limits = (*existing, RouteLimit(limits, key, deduct_when))  # type: ignore[attr-defined]
        return view

    return mark
