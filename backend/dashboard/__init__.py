"""Dashboards: what a parent sees first."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/api")

from backend.dashboard import routes  # noqa: E402,F401  (registers the views)
