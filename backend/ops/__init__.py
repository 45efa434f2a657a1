"""Platform operations: the operators' API (/api/ops) and console (/ops)."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("ops", __name__, url_prefix="/api/ops")
console_bp = Blueprint("ops_console", __name__, url_prefix="/ops")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.ops import console, routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
    app.register_blueprint(console_bp)
