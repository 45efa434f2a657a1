"""Notification choices: which optional emails each user gets (/api/me/notifications) and the
signed one-click unsubscribe link those emails carry (/api/notifications/unsubscribe)."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.notifications.service import opted_in

__all__ = ["init_app", "opted_in"]

# Named "mail", as before the package was split from the outbox: it names the operations
# (operationId, tag) that clients know.
bp = Blueprint("mail", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.notifications import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
