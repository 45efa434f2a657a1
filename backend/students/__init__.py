"""Students and their guardians."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.students.access import (
    grades_visible,
    guardian_link,
    use_roster,
    visible_student,
    visible_students,
)
from backend.students.models import GuardianLink, Student, StudentStatus
from backend.students.schemas import GradeLevel, StudentOut
from backend.students.service import list_guardians

__all__ = [
    "GradeLevel",
    "GuardianLink",
    "Student",
    "StudentOut",
    "StudentStatus",
    "grades_visible",
    "guardian_link",
    "init_app",
    "list_guardians",
    "use_roster",
    "visible_student",
    "visible_students",
]

bp = Blueprint("students", __name__, url_prefix="/api/students")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.auth import provide_children
    from backend.students import routes  # noqa: F401  (registers the views)
    from backend.students.service import linked_children

    provide_children(app, linked_children)  # a parent's profile lists their children
    app.register_blueprint(bp)
