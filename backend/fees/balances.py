"""What invoices add up to: totals, statuses and balances, computed on read (never stored)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import func, select

from backend.core.extensions import db
from backend.fees.models import Invoice, InvoiceLine, InvoiceState, Payment, PaymentReversal
from backend.fees.schemas import PaymentStatus
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


@dataclass(frozen=True)
class Balance:
    """A student's issued invoices summed up."""

    student_id: uuid.UUID
    currency: str
    invoiced_cents: int = 0
    paid_cents: int = 0
    outstanding_cents: int = 0
    overdue_cents: int = 0
    next_due_date: date | None = None

    def add(self, invoice: Invoice, owed: Totals, today: date) -> Balance:
        """This balance with one more invoice counted."""
        overdue = owed.outstanding > 0 and invoice.due_date < today
        next_due = self.next_due_date
        if owed.outstanding > 0 and not overdue and (next_due is None or invoice.due_date < next_due):
            next_due = invoice.due_date
        return replace(
            self,
            invoiced_cents=self.invoiced_cents + owed.total,
            paid_cents=self.paid_cents + owed.paid,
            outstanding_cents=self.outstanding_cents + owed.outstanding,
            overdue_cents=self.overdue_cents + (owed.outstanding if overdue else 0),
            next_due_date=next_due,
        )


def student_balances(auth: AuthContext, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, Balance]:
    """Each student's issued invoices summed up: invoiced, paid, outstanding, overdue, next due."""
    invoices = list(
        db.session.scalars(
            auth.scoped(Invoice).where(
                Invoice.student_id.in_(student_ids), Invoice.state == InvoiceState.ISSUED.value
            )
        )
    )
    sums, today = totals(i.id for i in invoices), auth.today()
    result = {student_id: Balance(student_id, auth.currency) for student_id in student_ids}
    for invoice in invoices:
        result[invoice.student_id] = result[invoice.student_id].add(invoice, sums[invoice.id], today)
    return result
