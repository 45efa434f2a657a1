"""Prometheus metrics: defined once here, counted by the request pipeline and the features, served
at GET /metrics.

Under Gunicorn every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR (set up by
gunicorn_config.py before anything imports prometheus_client; its old metrics files are deleted at
each server start); a scrape, served by whichever worker, adds them up, so counters neither reset
nor double when workers are recycled. Every other process (`flask` commands, waitress, the dev
server, tests) keeps its metrics in memory and writes no file: backend.config's
`settle_environment` drops the variable there, before prometheus_client reads it.
Labels are bounded: the route's URL rule (never the raw path), the method, the status.
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event

from backend.config import Settings
from backend.core.context import maybe_request_context
from backend.core.db import pool_stats
from backend.core.errors import NotFound, Unauthorized
from backend.core.extensions import db

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

REQUESTS = Counter("homeroom_http_requests", "Requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "homeroom_http_request_duration_seconds", "Time to answer.", ["method", "route"], buckets=_LATENCY_BUCKETS
)
IN_FLIGHT = Gauge("homeroom_http_requests_in_flight", "Requests being answered.", multiprocess_mode="livesum")
RESPONSE_SIZE = Histogram(
    "homeroom_http_response_size_bytes", "Response body sizes.", ["method", "route"], buckets=_SIZE_BUCKETS
)
SQL_STATEMENTS = Histogram(
    "homeroom_db_statements_per_request",
    "SQL statements a request sent.",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100),
)
SQL_SECONDS = Histogram(
    "homeroom_db_seconds_per_request", "Time a request spent in SQL.", ["route"], buckets=_LATENCY_BUCKETS
)
POOL = Gauge(
    "homeroom_db_pool_connections",
    "Pooled database connections by state, summed over live workers.",
    ["state"],
    multiprocess_mode="livesum",
)
POOL_WAITS = Counter("homeroom_db_pool_waits", "Checkouts that found no idle connection in the pool.")
REDIS_UP = Gauge(
    "homeroom_redis_up",
    "1 while Redis answers, 0 while the in-process fallback serves.",
    multiprocess_mode="livemin",
)
REDIS_FALLBACKS = Counter(
    "homeroom_redis_fallback_switches", "Switches from Redis to the in-process fallback."
)
RATE_LIMITED = Counter("homeroom_rate_limit_refusals", "Requests refused with 429.", ["route"])
REQUESTS_SHED = Counter(
    "homeroom_requests_shed",
    "Requests the Gunicorn worker did not run (core/admission.py), by reason: backlog and "
    "queued_too_long (answered 503), client_gone (closed: nobody was waiting).",
    ["reason"],
)
LOGIN_FAILURES = Counter("homeroom_auth_login_failures", "Failed sign-ins.")
REFRESH_REUSE = Counter("homeroom_auth_refresh_reuse_detections", "Refresh tokens presented twice.")
AUDIT_EVENTS = Counter(
    "homeroom_audit_events_written", "Audit events written (counted when committed or not)."
)
IDEMPOTENT_REPLAYS = Counter("homeroom_idempotent_replays", "Requests answered from a stored response.")
ASSISTANT_ANSWERS = Counter(
    "homeroom_assistant_answers",
    "Assistant answers by mode (model, offline) and outcome: answered (by the model), not_configured, "
    "breaker_open, timeout, error, malformed (the model failed), or, answered without the model, the "
    "answer's kind: clarify, not_found, refused, overview.",
    ["mode", "outcome"],
)
ASSISTANT_MODEL_SECONDS = Histogram(
    "homeroom_assistant_model_seconds",
    "Time the language model took to answer (successful calls).",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0),
)
APP_INFO = Gauge("homeroom_app_info", "The running version (value 1).", ["version"], multiprocess_mode="max")
STARTED = Gauge(
    "homeroom_app_start_time_seconds", "When the server started (Unix time).", multiprocess_mode="min"
)

_STATEMENTS = "homeroom_sql_statements"
_SQL_SECONDS = "homeroom_sql_seconds"


def init_metrics(app: Flask, settings: Settings, version: str) -> None:
    """Count every request; mark the version and start time."""
    APP_INFO.labels(version).set(1)
    STARTED.set(float(os.environ.get("HOMEROOM_STARTED_AT", time.time())))
    app.before_request(_started)
    app.after_request(_answered)
    app.teardown_request(_finished)


def _started() -> None:
    if request.path == "/metrics":
        return
    IN_FLIGHT.inc()
    g.metrics_in_flight = True
    setattr(g, _STATEMENTS, 0)
    setattr(g, _SQL_SECONDS, 0.0)


def _route() -> str:
    return request.url_rule.rule if request.url_rule else "(unmatched)"


_POOL_EVERY_SECONDS = 1.0  # the pool's gauges are a sample, not a per-request figure
_pool_recorded_at = [-_POOL_EVERY_SECONDS]


def _sample_pool() -> None:
    now = time.monotonic()
    if now - _pool_recorded_at[0] >= _POOL_EVERY_SECONDS:
        _pool_recorded_at[0] = now
        record_pool(pool_stats(db.engine))


def _answered(response: Response) -> Response:
    if not g.get("metrics_in_flight"):
        return response
    _sample_pool()
    route, method = _route(), request.method
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    context = maybe_request_context()
    if context is not None:
        LATENCY.labels(method, route).observe(time.perf_counter() - context.started_at)
    if response.content_length is not None:
        RESPONSE_SIZE.labels(method, route).observe(response.content_length)
    SQL_STATEMENTS.labels(route).observe(g.get(_STATEMENTS, 0))
    SQL_SECONDS.labels(route).observe(g.get(_SQL_SECONDS, 0.0))
    if response.status_code == 429:
        RATE_LIMITED.labels(route).inc()
    return response


def _finished(_error: BaseException | None) -> None:
    if g.pop("metrics_in_flight", None):
        IN_FLIGHT.dec()


def count_sql(engine: Engine) -> None:
    """Statements and their time, per request (`g`), for the per-request histograms."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(_conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any, _many: Any) -> None:
        context._homeroom_started = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any, _many: Any) -> None:
        try:
            setattr(g, _STATEMENTS, g.get(_STATEMENTS, 0) + 1)
            setattr(
                g, _SQL_SECONDS, g.get(_SQL_SECONDS, 0.0) + time.perf_counter() - context._homeroom_started
            )
        except RuntimeError:  # outside a request (commands, checks): not a request's statement
            return

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi: Any, _record: Any, _proxy: Any) -> None:
        pool = engine.pool
        if getattr(pool, "checkedin", None) is not None and pool.checkedin() == 0:  # type: ignore[attr-defined]
            POOL_WAITS.inc()


def record_pool(stats: dict[str, int]) -> None:
    for state in ("size", "checked_in", "checked_out", "overflow"):
        POOL.labels(state).set(stats[state])


def redis_state(up: bool, switched_to_fallback: bool = False) -> None:
    REDIS_UP.set(1 if up else 0)
    if switched_to_fallback:
        REDIS_FALLBACKS.inc()


# --- the scrape ---------------------------------------------------------------------------------


def scrape(*extra: Collector) -> bytes:
    """Every worker's values added up (or this process's), then `extra` collectors' figures."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    own = CollectorRegistry()
    for collector in extra:
        own.register(collector)
    return generate_latest(registry) + generate_latest(own)


def check_metrics_token(settings: Settings) -> None:
    """Metrics answer only a caller with METRICS_TOKEN; in production nothing is served without one."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None:
        if settings.is_production:
            raise NotFound("Metrics are not enabled (set METRICS_TOKEN).")
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("The metrics token is required.", headers={"WWW-Authenticate": "Bearer"})


def metrics_response(*extra: Collector) -> Response:
    return Response(scrape(*extra), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
