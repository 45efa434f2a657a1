"""The audit trail: who did what, when and from where; append-only and hash-chained."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/api")

from backend.audit import routes  # noqa: E402,F401  (registers the views)
