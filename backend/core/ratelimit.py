"""Rate limiting with Flask-Limiter: one limiter per app, who a request counts against, headers.

Limits live in Redis when REDIS_URL is set, so every worker and instance shares them; while Redis
is unreachable Flask-Limiter counts in memory (per process) and returns to Redis by itself.

Probes are exempt before Flask-Limiter looks at any limit (a request filter), so they never touch
the limiter's storage; a hit and the window for its headers are one Redis round trip
(`backend.core.limiter_storage`).

Flask-Limiter keeps the first app's storage, strategy and limits on the Limiter object, so a
module-level instance cannot serve several apps in one process; each app gets its own here, and
views declare their limits with `backend.core.markers.rate_limit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Response, current_app, request
from flask_limiter import Limiter

from backend.config import Settings
from backend.core.context import maybe_request_context, request_context
from backend.core.limiter_storage import storage_uri
from backend.core.markers import route_spec

log = structlog.get_logger("homeroom.ratelimit")
LIMITER_EXTENSION = "homeroom.limiter"
LIMITED_ENDPOINTS = "homeroom.limited_endpoints"


def setting_limit(name: str) -> Callable[[], str]:
    """A limit read from the settings on each request (the app's, not the first one built), for
    `@rate_limit(setting_limit("login_rate_limit"))`."""

    def read() -> str:
        value: str = getattr(request_context().settings, name)
        return value

    return read


def rate_limit_key() -> str:
    """The authenticated user when there is one, else the client IP (after ProxyFix)."""
    context = maybe_request_context()
    caller = context.caller if context is not None else None
    return f"user:{caller.user_id}" if caller is not None else f"ip:{request.remote_addr or 'unknown'}"


def _is_probe_request() -> bool:
    context = maybe_request_context()
    return context is not None and context.spec.probe


def limiter_config(settings: Settings) -> dict[str, Any]:
    """Flask-Limiter's RATELIMIT_* configuration for these settings."""
    if settings.redis_url:
        storage: dict[str, Any] = {
            "RATELIMIT_STORAGE_URI": storage_uri(settings.redis_url),
            "RATELIMIT_STORAGE_OPTIONS": {
                "socket_connect_timeout": settings.redis_timeout,
                "socket_timeout": settings.redis_timeout,
            },
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        }
    else:
        storage = {"RATELIMIT_STORAGE_URI": "memory://"}
    return {
        **storage,
        "RATELIMIT_DEFAULT": settings.rate_limit_default,
        "RATELIMIT_STRATEGY": settings.rate_limit_strategy,
        # Headers come from add_rate_limit_headers: Flask-Limiter's own would put Retry-After on
        # every response and stretch a 503's Retry-After to the end of the rate-limit window.
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_KEY_PREFIX": "homeroom",
        # A storage failure Flask-Limiter meets outside its fallback switch (two requests failing at
        # once, a deduction after the response) is logged, never a 500: limits are not worth an outage.
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """The app's limiter, after authentication (limits are keyed by the user) and the views."""
    app.config.update(limiter_config(settings))
    limiter = Limiter(key_func=rate_limit_key)
    limiter.request_filter(_is_probe_request)  # probes: no limit, no storage, checked first
    app.extensions[LIMITER_EXTENSION] = limiter
    # after_request hooks run in reverse order: registered before the limiter's, ours runs after it
    # has counted the failures (deduct_when), so X-RateLimit-Remaining is exact.
    app.after_request(add_rate_limit_headers)
    limiter.init_app(app)
    apply_route_limits(app)
    return limiter


def per_process_warning(settings: Settings) -> None:
    """Say once, when a server starts, that limits are counted per process without Redis."""
    if not settings.redis_url:
        log.warning(
            "rate_limits_per_process",
            reason="REDIS_URL is not set",
            effect="each worker counts its own requests; limits are not shared",
        )


def apply_route_limits(app: Flask) -> None:
    """Register the limits that views declared with @rate_limit (views added later need a call)."""
    limiter: Limiter = app.extensions[LIMITER_EXTENSION]
    # Per app: a view function (and its route record) is shared by every app built in a process.
    limited: set[str] = app.extensions.setdefault(LIMITED_ENDPOINTS, set())
    for endpoint, view in list(app.view_functions.items()):
        limits = route_spec(view).limits
        if not limits or endpoint in limited:
            continue
        # Flask-Limiter checks a decorated limit inside its wrapper, so the wrapper must serve.
        wrapped: Callable[..., Any] = view
        for item in limits:
            wrapped = limiter.limit(item.limits, key_func=item.key, deduct_when=item.deduct_when)(wrapped)
        app.view_functions[endpoint] = wrapped
        limited.add(endpoint)


def current_limiter() -> Limiter:
    limiter: Limiter = current_app.extensions[LIMITER_EXTENSION]
    return limiter


def add_rate_limit_headers(response: Response) -> Response:
    """X-RateLimit-Limit/-Remaining/-Reset on limited responses; Retry-After on the 429 itself."""
    current = current_limiter().current_limit
    if current is None:
        return response
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # noqa: BLE001 - any storage failure (refused, reset, timed out): headers are optional
        return response  # the answer matters more than its headers
    headers = response.headers
    headers["X-RateLimit-Limit"] = str(current.limit.amount)
    headers["X-RateLimit-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(reset_at)
    if response.status_code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(max(1, reset_at - int(time.time())))
    return response
