"""Schools: the tenants. The school record, creating one, and the school's own facts (its day)."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.schools.models import School
from backend.schools.service import school_by_slug

__all__ = ["School", "init_app", "school_by_slug"]

bp = Blueprint("schools", __name__, url_prefix="/api/school")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.schools import routes  # noqa: F401  (registers the views)
    from backend.schools.cli import schools_cli

    app.register_blueprint(bp)
    app.cli.add_command(schools_cli)
