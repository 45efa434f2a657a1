"""Terms, classes and enrollments."""

from flask import Blueprint

terms_bp = Blueprint("terms", __name__, url_prefix="/api/terms")
bp = Blueprint("classes", __name__, url_prefix="/api/classes")

from backend.classes import routes  # noqa: E402,F401  (registers the views)
