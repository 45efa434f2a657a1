"""The dependency-check registry behind /ready and /api/health.

A check is a function returning optional details and raising when the dependency is not usable.
Critical checks decide readiness; optional ones (Redis, outside APIs) only show in /api/health.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from flask import Flask

from backend.config import SETTINGS_EXTENSION
from backend.core.cache import CACHE_EXTENSION, Cache
from backend.core.context import RowScope, deadline_at
from backend.core.db import migration_status, running_under
from backend.core.ratelimit import LIMITER_EXTENSION

log = structlog.get_logger("homeroom.health")
_REGISTRY = "homeroom.health_checks"
_EXECUTOR = "homeroom.health_check_threads"

CheckFn = Callable[[Flask], dict[str, Any] | None]
HEALTHY = frozenset({"ok", "not_configured"})


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFn
    critical: bool


def register_check(app: Flask, name: str, run: CheckFn, *, critical: bool) -> None:
    app.extensions.setdefault(_REGISTRY, {})[name] = Check(name, run, critical)


def _executor(app: Flask) -> ThreadPoolExecutor:
    """Checks run on threads of their own, so that a probe can stop waiting for them. One pool per
    process: a pool made before Gunicorn forks has no threads in the worker."""
    owner, executor = app.extensions.get(_EXECUTOR, (None, None))
    if not isinstance(executor, ThreadPoolExecutor) or owner != os.getpid():
        executor = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="check")
        app.extensions[_EXECUTOR] = (os.getpid(), executor)
    return executor


# Every check of a probe runs at once; one that hangs holds its thread until its own deadline
# (HEALTH_CHECK_TIMEOUT), so a few probes in a row never queue behind each other.
_THREADS = 32


def _in_app(app: Flask, check: Check, until: float) -> tuple[dict[str, Any], float]:
    """A check on its thread, with how long it took: platform-wide work (it may count every
    school's rows), whose waits on the database end at the probe's cut-off; one that starts after
    it (behind hung checks) does not run at all."""
    started = time.perf_counter()
    if started >= until:
        raise TimeoutError("the probe had given up before the check started")
    with app.app_context(), deadline_at(until), running_under(_HEALTH_CHECKS):
        details = check.run(app) or {}
    return details, time.perf_counter() - started


_HEALTH_CHECKS = RowScope(platform="health checks")


def _outcome(
    check: Check, future: Future[tuple[dict[str, Any], float]], started: float, until: float
) -> dict[str, Any]:
    """One check's result, waited for until the probe's shared deadline: a dependency that does not
    answer in time is down, however long it would hang."""
    result: dict[str, Any] = {"critical": check.critical}
    try:
        details, took = future.result(timeout=max(0.0, until - time.perf_counter()))
        result["status"] = details.pop("status", "ok")
        result.update(details)
        result["latency_ms"] = round(took * 1000, 2)
        return result
    except FutureTimeout:
        result["status"], result["error"] = "down", "Timeout"
        log.warning("health_check_timed_out", check=check.name)
    except Exception as error:  # noqa: BLE001 - any failure of a dependency is reported, not raised
        result["status"] = "down"
        result["error"] = type(error).__name__
        log.warning("health_check_failed", check=check.name, error_type=type(error).__name__)
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def run_checks(app: Flask, *, critical_only: bool = False) -> dict[str, dict[str, Any]]:
    """The checks, all at once, answered within HEALTH_CHECK_TIMEOUT together (not one after another)."""
    # `current_app` is a context-local proxy; the checks' threads need the app object itself.
    app = getattr(app, "_get_current_object", lambda: app)()
    checks = [
        check for check in app.extensions.get(_REGISTRY, {}).values() if check.critical or not critical_only
    ]
    timeout = app.extensions[SETTINGS_EXTENSION].health_check_timeout
    started = time.perf_counter()
    until = started + timeout
    futures = [_executor(app).submit(_in_app, app, check, until) for check in checks]
    return {
        check.name: _outcome(check, future, started, until)
        for check, future in zip(checks, futures, strict=True)
    }


@dataclass(frozen=True)
class Report:
    """Every check's result, and when they ran."""

    components: dict[str, dict[str, Any]]
    checked_at: datetime
    monotonic: float


class _LatestReport:
    """This worker's latest report; one refresh at a time (callers meanwhile wait for it)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.report: Report | None = None

    def fresh(self, max_age: float) -> Report | None:
        report = self.report
        return report if report is not None and time.monotonic() - report.monotonic < max_age else None


_LATEST = "homeroom.health_report"


def component_report(app: Flask) -> Report:
    """All the checks, as /api/health reports them: run at most every HEALTH_REPORT_MAX_AGE_SECONDS
    per worker. A report is not a gate (/ready runs its checks on every call): a monitor or a
    crowd polling it costs one round of checks a period, not one per call."""
    max_age = app.extensions[SETTINGS_EXTENSION].health_report_max_age_seconds
    if max_age == 0:  # checked on every call, concurrently as before
        return Report(run_checks(app), datetime.now(UTC), time.monotonic())
    latest = app.extensions.get(_LATEST)
    if not isinstance(latest, _LatestReport) or latest.pid != os.getpid():  # new, or forked
        latest = app.extensions[_LATEST] = _LatestReport()
    report = latest.fresh(max_age)
    if report is not None:
        return report
    with latest.lock:
        report = latest.fresh(max_age)  # another caller has just refreshed it
        if report is None:
            checked_at = datetime.now(UTC)
            report = Report(run_checks(app), checked_at, time.monotonic())
            latest.report = report
    return report


def check_database(app: Flask) -> dict[str, Any]:
    """Reachable within HEALTH_CHECK_TIMEOUT and migrated to the code's head revision."""
    status = migration_status(app)
    if not status["at_head"]:
        return {"status": "down", "reason": "migrations_pending", "migrations": status}
    return {"migrations": status}


def check_redis(app: Flask) -> dict[str, Any]:
    """`ok` while both users of Redis in this process, the cache and the rate limits, are on it;
    `degraded` while either serves from memory; or `not_configured`.

    The report is what the process is doing, not a second opinion: the cache's ping goes through
    its breaker (a ping fails over to memory like any call, and is the probe when one is due), and
    the limits say whether Flask-Limiter is counting in memory. Both try Redis again at most
    REDIS_COOLDOWN_MAX apart, so every worker reports `ok` within about that long of its return."""
    cache: Cache = app.extensions[CACHE_EXTENSION]
    if cache.redis is None:
        return {"status": "not_configured"}
    limiter = app.extensions.get(LIMITER_EXTENSION)
    on_redis = {"cache": cache.ping(), "rate_limits": limiter is None or not limiter.on_fallback}
    return {
        "status": "ok" if all(on_redis.values()) else "degraded",
        **{name: "redis" if up else "in_process" for name, up in on_redis.items()},
    }


def report_dependencies(app: Flask) -> None:
    """When the server is ready: one log line per dependency (status, latency), critical ones
    first; a critical one down is an error line, an optional one a warning."""
    with app.app_context():
        results = run_checks(app)
    ordered = sorted(results.items(), key=lambda item: (not item[1]["critical"], item[0]))
    for name, result in ordered:
        healthy = result["status"] in HEALTHY
        emit = log.info if healthy else log.error if result["critical"] else log.warning
        emit(
            "dependency",
            dependency=name,
            status=result["status"],
            critical=result["critical"],
            latency_ms=result["latency_ms"],
            **({"error": result["error"]} if "error" in result else {}),
        )
