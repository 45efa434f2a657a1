"""Fees: invoices, payments (idempotent), reversals and balances."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("fees", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.fees import routes  # noqa: F401  (registers the views)
    from backend.fees.cli import fees_cli

    app.register_blueprint(bp)
    app.cli.add_command(fees_cli)
