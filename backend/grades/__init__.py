"""Assessments and grades."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.grades.models import Assessment, Grade, GradeStatus
from backend.grades.schemas import StudentGradeOut, StudentGradesOut
from backend.grades.service import percentage, student_grades

__all__ = [
    "Assessment",
    "Grade",
    "GradeStatus",
    "StudentGradeOut",
    "StudentGradesOut",
    "init_app",
    "percentage",
    "student_grades",
]

bp = Blueprint("grades", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.grades import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
