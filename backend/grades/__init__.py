"""Assessments and grades."""

from flask import Blueprint

bp = Blueprint("grades", __name__, url_prefix="/api")

from backend.grades import routes  # noqa: E402,F401  (registers the views)
