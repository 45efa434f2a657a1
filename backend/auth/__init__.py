"""Identity and access: users, sessions, tokens, roles, deny by default."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.auth.acting import acting_admin
from backend.auth.invitations import NO_PASSWORD_YET, invite
from backend.auth.models import User
from backend.auth.schemas import ChildOut
from backend.auth.service import password_hasher, profile, provide_children
from backend.config import Settings

__all__ = [
    "NO_PASSWORD_YET",
    "ChildOut",
    "User",
    "acting_admin",
    "init_app",
    "invite",
    "password_hasher",
    "profile",
    "provide_children",
]

auth_bp = Blueprint("auth", __name__, url_prefix="/api/auth")
users_bp = Blueprint("users", __name__, url_prefix="/api/users")


def init_app(app: Flask, settings: Settings) -> None:
    """Authentication before every request, the password hasher, /api/auth, /api/users, commands."""
    from backend.auth import routes, user_routes  # noqa: F401  (registers the views)
    from backend.auth.access import LOCAL_STATES, authenticate
    from backend.auth.cli import routes_audit, users_cli
    from backend.auth.passwords import Passwords
    from backend.auth.recovery import process_reset_requests
    from backend.auth.service import PASSWORDS_EXTENSION
    from backend.core.cache import MemoryStore
    from backend.mail import register_before_round

    app.before_request(authenticate)
    app.extensions[LOCAL_STATES] = MemoryStore(settings.cache_max_entries)
    app.extensions[PASSWORDS_EXTENSION] = Passwords.from_settings(settings)
    app.register_blueprint(auth_bp)
    app.register_blueprint(users_bp)
    app.cli.add_command(users_cli)
    app.cli.add_command(routes_audit)
    register_before_round(app, process_reset_requests)  # reset requests become emails in the sender
