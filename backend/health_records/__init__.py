"""Students' health records, encrypted at rest."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.health_records.models import HealthRecord
from backend.health_records.service import read, read_alerts

__all__ = ["HealthRecord", "init_app", "read", "read_alerts"]

bp = Blueprint("health_records", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.health_records import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
