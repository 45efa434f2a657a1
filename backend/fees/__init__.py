"""Fees: invoices, payments (idempotent), reversals and balances."""

from flask import Blueprint

bp = Blueprint("fees", __name__, url_prefix="/api")

from backend.fees import routes  # noqa: E402,F401  (registers the views)
