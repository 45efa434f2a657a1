"""Liveness, readiness and component health, and the dependency checks behind them."""

from __future__ import annotations

import time

from flask import Blueprint, Flask

from backend.config import Settings
from backend.probes.checks import register_check
from backend.probes.metrics import register_state_metric

__all__ = ["init_app", "register_check", "register_state_metric"]

bp = Blueprint("probes", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    from backend.probes.checks import check_database, check_redis, register_check
    from backend.probes.routes import STARTED_AT  # (importing the routes registers the views)

    app.extensions[STARTED_AT] = time.monotonic()
    app.register_blueprint(bp)
    register_check(app, "database", check_database, critical=True)
    register_check(app, "redis", check_redis, critical=False)
