"""Email: the outbox written with each change, the sender that delivers it over SMTP, and the
templates. (Each user's choice of notifications is `backend.notifications`.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from backend.config import SETTINGS_EXTENSION, Settings
from backend.mail.models import OFF_BY_DEFAULT, OPTIONAL_KINDS, MailKind, NotificationPreference
from backend.mail.outbox import Letter, Recipient, cancel, queue_email, queue_emails
from backend.mail.sender import register_before_round
from backend.mail.templates import read_unsubscribe_token

__all__ = [
    "OFF_BY_DEFAULT",
    "OPTIONAL_KINDS",
    "Letter",
    "MailKind",
    "NotificationPreference",
    "Recipient",
    "cancel",
    "init_app",
    "queue_email",
    "queue_emails",
    "read_unsubscribe_token",
    "register_before_round",
]

# The oldest due message waiting longer than this means the sender is down or cannot keep up.
SENDER_LAG = timedelta(minutes=10)


def check_mail(app: Flask) -> dict[str, Any]:
    """`/api/health`: `not_configured` without SMTP_URL (mail stays queued), `degraded` when a due
    message has waited over ten minutes or one is dead, else `ok`; with the queue's figures."""
    from backend.core.models import utcnow
    from backend.mail.outbox import status

    state = status(pending_only=True)
    figures = {
        "queued": sum(state.counts.get("queued", {}).values()),
        "dead": sum(state.counts.get("dead", {}).values()),
        "oldest_due_seconds": round((utcnow() - state.oldest_due).total_seconds()) if state.oldest_due else 0,
    }
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    if settings.smtp_url is None:
        return {"status": "not_configured", **figures}
    lagging = state.oldest_due is not None and utcnow() - state.oldest_due > SENDER_LAG
    return {"status": "degraded" if lagging or figures["dead"] else "ok", **figures}


def init_app(app: Flask, settings: Settings) -> None:
    from backend.mail import metrics
    from backend.mail.cli import outbox_cli
    from backend.probes import register_check, register_state_metric

    app.cli.add_command(outbox_cli)
    register_check(app, "mail", check_mail, critical=False)
    register_state_metric(app, metrics.read, metrics.fallback)
