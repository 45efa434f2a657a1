"""What invoices add up to: totals, statuses and balances, computed on read (never stored)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from backend.core.extensions import db
from backend.fees.models import Invoice, InvoiceLine, InvoiceState, Payment, PaymentReversal
from backend.fees.schemas import BalanceOut, PaymentStatus
from backend.tenancy import AuthContext

# --- money as people read it --------------------------------------------------------------------

CURRENCY_SIGNS = {"GBP": "£", "USD": "$", "EUR": "€", "INR": "₹", "JPY": "¥", "NGN": "₦", "KES": "KSh "}
ZERO_DECIMAL = frozenset({"JPY", "KRW"})


def format_money(cents: int, currency: str) -> str:
    """Minor units in the school's currency: 123456 GBP -> "£1,234.56 (GBP)"."""
    sign = CURRENCY_SIGNS.get(currency, "")
    amount = f"{cents:,}" if currency in ZERO_DECIMAL else f"{cents / 100:,.2f}"
    return f"{sign}{amount} ({currency})" if sign else f"{amount} {currency}"


# --- totals -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    total: int
    paid: int

    @property
    def outstanding(self) -> int:
        return self.total - self.paid


def totals(invoice_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Totals]:
    """Each invoice's total and what has been paid (reversed payments excluded): two queries."""
    ids = list(invoice_ids)
    billed = dict(
        db.session.execute(
            select(InvoiceLine.invoice_id, func.sum(InvoiceLine.amount_cents))
            .where(InvoiceLine.invoice_id.in_(ids))
            .group_by(InvoiceLine.invoice_id)
        ).all()
    )
    paid = dict(
        db.session.execute(
            select(Payment.invoice_id, func.sum(Payment.amount_cents))
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(Payment.invoice_id.in_(ids), PaymentReversal.id.is_(None))
            .group_by(Payment.invoice_id)
        ).all()
    )
    return {i: Totals(int(billed.get(i) or 0), int(paid.get(i) or 0)) for i in ids}


def payment_status(invoice: Invoice, sums: Totals, today: date) -> PaymentStatus | None:
    if invoice.state != InvoiceState.ISSUED:
        return None
    if sums.outstanding <= 0:
        return PaymentStatus.PAID
    if invoice.due_date < today:
        return PaymentStatus.OVERDUE
    return PaymentStatus.PARTIALLY_PAID if sums.paid else PaymentStatus.UNPAID


# --- balances -----------------------------------------------------------------------------------


def _balance(
    student_id: uuid.UUID, currency: str, owed: list[tuple[date, Totals]], today: date
) -> BalanceOut:
    """A student's issued invoices summed up; an invoice still owed is overdue once its due date has
    passed, and the earliest due date of those not yet overdue is the next one."""
    unpaid = [(due, sums.outstanding) for due, sums in owed if sums.outstanding > 0]
    return BalanceOut(
        student_id=student_id,
        currency=currency,
        invoiced_cents=sum(sums.total for _, sums in owed),
        paid_cents=sum(sums.paid for _, sums in owed),
        outstanding_cents=sum(sums.outstanding for _, sums in owed),
        overdue_cents=sum(outstanding for due, outstanding in unpaid if due < today),
        next_due_date=min((due for due, _ in unpaid if due >= today), default=None),
    )


def _billed() -> Any:
    return (
        select(func.coalesce(func.sum(InvoiceLine.amount_cents), 0))
        .where(InvoiceLine.invoice_id == Invoice.id)
        .scalar_subquery()
    )


def _paid() -> Any:
    """Payments to the invoice, reversed ones excluded (as in `totals`)."""
    return (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.invoice_id == Invoice.id, PaymentReversal.id.is_(None))
        .scalar_subquery()
    )


def student_balances(auth: AuthContext, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, BalanceOut]:
    """Each student's issued invoices summed up: invoiced, paid, outstanding, overdue, next due.
    One query, whatever the number of students and invoices (none for no students)."""
    if not student_ids:
        return {}
    rows = db.session.execute(
        select(Invoice.student_id, Invoice.due_date, _billed(), _paid()).where(
            auth.owns(Invoice),
            Invoice.student_id.in_(student_ids),
            Invoice.state == InvoiceState.ISSUED.value,
        )
    )
    owed: dict[uuid.UUID, list[tuple[date, Totals]]] = {student_id: [] for student_id in student_ids}
    for student_id, due_date, billed, paid in rows:
        owed[student_id].append((due_date, Totals(int(billed), int(paid))))
    today = auth.today()
    return {
        student_id: _balance(student_id, auth.currency, theirs, today) for student_id, theirs in owed.items()
    }
