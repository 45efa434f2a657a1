"""GET /health (liveness), GET /ready (readiness), GET /api/health (components), GET /metrics."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from flask import Response, current_app
from pydantic import BaseModel, Field

from backend.config import current_settings
from backend.core.api import api
from backend.core.db import pool_stats
from backend.core.errors import ServiceUnavailable
from backend.core.extensions import db
from backend.core.markers import probe, public
from backend.core.metrics import check_metrics_token, metrics_response
from backend.core.serving import is_draining
from backend.probes import bp
from backend.probes.checks import HEALTHY, component_report, run_checks
from backend.probes.metrics import StateCollector
from backend.version import __version__

STARTED_AT = "homeroom.started_at"


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: dict[str, dict[str, Any]]


class ComponentHealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    uptime_seconds: float
    checked_at: datetime = Field(
        description="When the components were checked (at most HEALTH_REPORT_MAX_AGE_SECONDS ago)."
    )
    components: dict[str, dict[str, Any]]
    database_pool: dict[str, int]


@bp.get("/health")
@probe
@api(response=HealthOut)
def health() -> dict[str, str]:
    """Liveness: the process answers. Touches no dependency."""
    return {"status": "ok"}


@bp.get("/ready")
@probe
@api(response=ReadyOut)
def ready() -> dict[str, Any]:
    """Readiness: not shutting down, and every critical dependency usable within its timeout."""
    if is_draining():
        raise ServiceUnavailable("Shutting down: finishing in-flight requests.", failing=["shutdown"])
    checks = run_checks(current_app, critical_only=True)
    failing = sorted(name for name, result in checks.items() if result["status"] not in HEALTHY)
    if failing:
        raise ServiceUnavailable(f"Not ready: {', '.join(failing)} failing.", failing=failing, checks=checks)
    return {"status": "ready", "checks": checks}


@bp.get("/api/health")
@public
@api(response=ComponentHealthOut)
def component_health() -> dict[str, Any]:
    """Each component's status and latency, pool statistics, version and uptime.

    A report, not a gate: it answers 200 while the process runs and says `ok`, `degraded`
    (an optional component is down) or `down` (a critical one is); /ready is the gate. The
    components were checked at `checked_at`, at most HEALTH_REPORT_MAX_AGE_SECONDS ago.
    """
    report = component_report(current_app)
    components = report.components
    critical_down = any(c["critical"] and c["status"] not in HEALTHY for c in components.values())
    degraded = any(c["status"] not in HEALTHY for c in components.values())
    return {
        "status": "down" if critical_down else "degraded" if degraded else "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - current_app.extensions[STARTED_AT], 1),
        "checked_at": report.checked_at,
        "components": components,
        "database_pool": pool_stats(db.engine),
    }


@bp.get("/metrics")
@probe  # no rate limit, no access-log line; the token is checked below
@api(media_type="text/plain", problems=(401, 404))
def metrics() -> Response:
    """Prometheus metrics (Authorization: Bearer METRICS_TOKEN)."""
    check_metrics_token(current_settings())
    return metrics_response(StateCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
