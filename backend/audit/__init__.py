"""The audit trail: who did what, when and from where; append-only and hash-chained."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.audit.models import PLATFORM_CHAIN
from backend.audit.service import (
    ActingUser,
    Actor,
    chain_ids,
    diff,
    record,
    snapshot,
    start_chain,
    verify_chain,
)
from backend.audit.triggers import TRIGGERS
from backend.config import Settings

__all__ = [
    "PLATFORM_CHAIN",
    "TRIGGERS",
    "ActingUser",
    "Actor",
    "chain_ids",
    "diff",
    "init_app",
    "record",
    "snapshot",
    "start_chain",
    "verify_chain",
]

bp = Blueprint("audit", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.audit import routes  # noqa: F401  (registers the views)
    from backend.audit.cli import audit_cli

    app.register_blueprint(bp)
    app.cli.add_command(audit_cli)
