"""Liveness, readiness and component health."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from backend.health import routes  # noqa: E402,F401  (registers the views on bp)
