"""Students' health records, encrypted at rest."""

from flask import Blueprint

bp = Blueprint("medical", __name__, url_prefix="/api")

from backend.medical import routes  # noqa: E402,F401  (registers the views)
