"""Spreadsheets for school offices: CSV imports (all or nothing, dry runs) and streamed exports."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

# The blueprint keeps its first name: it names the operations (operationId, tag) clients know.
bp = Blueprint("bulk", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.spreadsheets import routes  # noqa: F401  (registers the views)
    from backend.spreadsheets.cli import import_command

    app.register_blueprint(bp)
    app.cli.add_command(import_command)
