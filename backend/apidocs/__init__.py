"""The API's own description: /api/openapi.json and a docs page served entirely by the app."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("apidocs", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.apidocs import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
