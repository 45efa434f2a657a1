"""Students and their guardians."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("students", __name__, url_prefix="/api/students")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.students import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
