"""Fees: invoices, payments (idempotent), reversals and balances."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.config import Settings
from backend.fees.balances import format_money, student_balances
from backend.fees.events import invoice_issued, payment_recorded, payment_reversed
from backend.fees.models import Invoice, InvoiceLine, InvoiceState, Payment, PaymentMethod, PaymentReversal
from backend.fees.schemas import BalanceOut, InvoiceListQuery
from backend.fees.service import finance_students, list_invoices, record_external_payment, student_balance

__all__ = [
    "BalanceOut",
    "Invoice",
    "InvoiceLine",
    "InvoiceListQuery",
    "InvoiceState",
    "Payment",
    "PaymentMethod",
    "PaymentReversal",
    "finance_students",
    "format_money",
    "init_app",
    "invoice_issued",
    "list_invoices",
    "payment_recorded",
    "payment_reversed",
    "record_external_payment",
    "student_balance",
    "student_balances",
]

bp = Blueprint("fees", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.fees import routes  # noqa: F401  (registers the views)
    from backend.fees.cli import fees_cli

    app.register_blueprint(bp)
    app.cli.add_command(fees_cli)
