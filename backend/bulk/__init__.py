"""Bulk work for school offices: CSV imports (all or nothing, dry runs) and streamed exports."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("bulk", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.bulk import routes  # noqa: F401  (registers the views)
    from backend.bulk.cli import import_command

    app.register_blueprint(bp)
    app.cli.add_command(import_command)
