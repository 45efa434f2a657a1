"""Xero: a school connects its accounting organisation; issued invoices, payments and reversals
are synced by jobs, payments recorded in Xero come back through signed webhooks."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Flask

from backend.config import Settings

__all__ = ["connections_overview", "init_app"]

bp = Blueprint("xero", __name__, url_prefix="/api/integrations/xero")


def connections_overview() -> list[dict[str, Any]]:
    """Every school's connection, for the operators (no token)."""
    from backend.xero.health import overview

    return overview()


# fees' signals: module-level receivers (blinker keeps weak references; connecting one twice is
# connecting it once), each queueing its kind of sync job in the change's own transaction.
def _on_invoice_issued(_sender: object, *, school_id: uuid.UUID, invoice_id: uuid.UUID) -> None:
    from backend.xero.service import enqueue_if_syncing

    enqueue_if_syncing("xero.invoice", school_id, invoice_id)


def _on_payment_recorded(_sender: object, *, school_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    from backend.xero.service import enqueue_if_syncing

    enqueue_if_syncing("xero.payment", school_id, payment_id)


def _on_payment_reversed(_sender: object, *, school_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    from backend.xero.service import enqueue_if_syncing

    enqueue_if_syncing("xero.reversal", school_id, payment_id)


def init_app(app: Flask, settings: Settings) -> None:
    from backend import fees, jobs, mail
    from backend.probes import register_check
    from backend.xero import routes  # noqa: F401  (registers the views)
    from backend.xero.handlers import HANDLERS
    from backend.xero.health import KeepAlive, check_xero

    app.register_blueprint(bp)
    for kind, handler in HANDLERS.items():
        jobs.register_handler(app, kind, handler)
    fees.invoice_issued.connect(_on_invoice_issued)
    fees.payment_recorded.connect(_on_payment_recorded)
    fees.payment_reversed.connect(_on_payment_reversed)
    register_check(app, "xero", check_xero, critical=False)
    mail.register_before_round(app, KeepAlive().due)
