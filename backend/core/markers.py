"""Markers on view functions that the request pipeline reads (kept free of other imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

F = TypeVar("F", bound=Callable[..., Any])


def probe(view: F) -> F:
    """Mark a view as a probe: never rate limited, and out of the access log unless ACCESS_LOG_PROBES."""
    view.is_probe = True  # type: ignore[attr-defined]
    return view


def current_view() -> Callable[..., Any] | None:
    return current_app.view_functions.get(request.endpoint or "")


def is_probe_request() -> bool:
    return bool(getattr(current_view(), "is_probe", False))


def rate_limit(limits: str) -> Callable[[F], F]:
    """Give a view its own rate limit (e.g. "5 per minute;20 per hour"), on top of the default."""

    def mark(view: F) -> F:
        view.rate_limits = limits  # type: ignore[attr-defined]
        return view

    return mark
