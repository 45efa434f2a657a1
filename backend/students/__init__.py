"""Students and their guardians."""

from flask import Blueprint

bp = Blueprint("students", __name__, url_prefix="/api/students")

from backend.students import routes  # noqa: E402,F401  (registers the views)
