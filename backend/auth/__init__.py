"""Identity and access: schools, users, sessions, tokens, roles, deny by default."""

from flask import Blueprint

auth_bp = Blueprint("auth", __name__, url_prefix="/api/auth")
users_bp = Blueprint("users", __name__, url_prefix="/api/users")

from backend.auth import routes, user_routes  # noqa: E402,F401  (registers the views)
