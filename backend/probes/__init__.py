"""Liveness, readiness and component health, and the dependency checks behind them."""

from __future__ import annotations

import time

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("probes", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    from backend.probes import metrics  # noqa: F401  (registers GET /metrics)
    from backend.probes.checks import check_database, check_redis, register_check
    from backend.probes.routes import STARTED_AT

    app.extensions[STARTED_AT] = time.monotonic()
    app.register_blueprint(bp)
    register_check(app, "database", check_database, critical=True)
    register_check(app, "redis", check_redis, critical=False)
