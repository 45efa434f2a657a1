"""Report cards: grade scales, term results, comments, and published, versioned term reports
(JSON, PDF, a ZIP of PDFs, the office's CSV), emailed to the guardians who may see grades."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.reportcards.models import GradeScale
from backend.reportcards.reading import latest_for
from backend.reportcards.schemas import CardOut

__all__ = ["CardOut", "GradeScale", "init_app", "latest_for"]

bp = Blueprint("reportcards", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.reportcards import card_routes, routes  # noqa: F401  (registers the views)
    from backend.reportcards.cli import report_cards_cli

    app.register_blueprint(bp)
    app.cli.add_command(report_cards_cli)
