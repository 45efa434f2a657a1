"""Terms, classes and enrollments."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.classes.models import Enrollment, SchoolClass, Term
from backend.classes.service import teaching, term_on, visible_class, visible_classes
from backend.config import Settings

__all__ = [
    "Enrollment",
    "SchoolClass",
    "Term",
    "init_app",
    "teaching",
    "term_on",
    "visible_class",
    "visible_classes",
]

terms_bp = Blueprint("terms", __name__, url_prefix="/api/terms")
bp = Blueprint("classes", __name__, url_prefix="/api/classes")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.classes import routes  # noqa: F401  (registers the views)
    from backend.classes.roster import ClassRoster
    from backend.students import use_roster

    use_roster(app, ClassRoster())  # which students a teacher sees, for the student rules
    app.register_blueprint(terms_bp)
    app.register_blueprint(bp)
