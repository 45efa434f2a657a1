"""The API's own description: /api/openapi.json and a docs page served entirely by the app."""

from flask import Blueprint

bp = Blueprint("apidocs", __name__, url_prefix="/api")

from backend.apidocs import routes  # noqa: E402,F401  (registers the views)
