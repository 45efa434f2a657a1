"""Rate limiting with Flask-Limiter: one limiter per app, who a request counts against, headers.

Limits live in Redis when REDIS_URL is set, so every worker and instance shares them; while Redis
is unreachable Flask-Limiter counts in memory (per process) and returns to Redis by itself: it
pings its storage again, from a request, at most once every REDIS_COOLDOWN_MAX seconds (the cache's
pace, 1 s by default) where its own back-off grows to 32 s (`Limiter`, below).

Probes are exempt before Flask-Limiter looks at any limit (a request filter), so they never touch
the limiter's storage; a hit and the window for its headers are one Redis round trip
(`backend.core.limiter_storage`).

Flask-Limiter keeps the first app's storage, strategy and limits on the Limiter object, so a
module-level instance cannot serve several apps in one process; each app gets its own here, and
views declare their limits with `backend.core.markers.rate_limit`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Response, current_app, request
from flask_limiter import Limiter as FlaskLimiter

from backend.config import Settings
from backend.core.context import maybe_request_context, request_context
from backend.core.limiter_storage import storage_uri
from backend.core.markers import route_spec

log = structlog.get_logger("homeroom.ratelimit")
LIMITER_EXTENSION = "homeroom.limiter"
LIMITED_ENDPOINTS = "homeroom.limited_endpoints"


class Limiter(FlaskLimiter):
    """Flask-Limiter, re-checking a storage it gave up on at a steady pace.

    Once its storage fails, Flask-Limiter counts in memory and pings the storage again from a later
    request, waiting 1, 2, 4, 8, 16, then 32 s between pings: a worker could stay on its own counts
    for half a minute after Redis returned. Here the ping is due `recheck_seconds` after the last
    one (one request makes it; the others go on in memory meanwhile)."""

    def __init__(
        self,
        *args: Any,
        recheck_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._last_recheck = float("-inf")
        self._recheck_lock = threading.Lock()

    # Overrides Flask-Limiter's private `__should_check_backend` (its name, mangled); the recovery
    # test (tests/core/test_redis_recovery.py) fails if an upgrade stops calling it.
    def _Limiter__should_check_backend(self) -> bool:  # noqa: N802 - the mangled name it calls
        with self._recheck_lock:
            now = self.clock()
            if now - self._last_recheck < self.recheck_seconds:
                return False
            self._last_recheck = now
            return True

    @property
    def on_fallback(self) -> bool:
        """Whether limits are being counted in this process's memory because the storage failed."""
        return bool(self._storage_dead)


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
    limiter = Limiter(key_func=rate_limit_key, recheck_seconds=settings.redis_cooldown_max)
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
