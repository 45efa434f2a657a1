"""Attendance: recorded per class and date, corrected per record, summarised per student."""

from flask import Blueprint

bp = Blueprint("attendance", __name__, url_prefix="/api")

from backend.attendance import routes  # noqa: E402,F401  (registers the views)
