"""Dashboards: what a parent sees first."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("dashboard", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.dashboard import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
