"""Students and their guardians."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings

bp = Blueprint("students", __name__, url_prefix="/api/students")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.auth.service import provide_children
    from backend.students import routes  # noqa: F401  (registers the views)
    from backend.students.service import linked_children

    provide_children(app, linked_children)  # a parent's profile lists their children
    app.register_blueprint(bp)
