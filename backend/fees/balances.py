"""What invoices add up to: totals, statuses and balances, computed on read (never stored)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from backend.auth.access import AuthContext, scoped
from backend.auth.models import School
from backend.auth.user_service import school_today
from backend.extensions import db
from backend.fees.models import Invoice, InvoiceLine, InvoiceState, Payment, PaymentReversal
from backend.fees.schemas import PaymentStatus

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


def currency_of(school_id: uuid.UUID) -> str:
    return db.session.scalar(select(School.currency).where(School.id == school_id)) or ""


# --- balances -----------------------------------------------------------------------------------


def balances(auth: AuthContext, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Each student's issued invoices summed up: invoiced, paid, outstanding, overdue, next due."""
    invoices = list(
        db.session.scalars(
            scoped(Invoice).where(
                Invoice.student_id.in_(student_ids), Invoice.state == InvoiceState.ISSUED.value
            )
        )
    )
    sums, today, currency = (
        totals(i.id for i in invoices),
        school_today(auth.school_id),
        currency_of(auth.school_id),
    )
    result = {
        s: {
            "student_id": s,
            "currency": currency,
            "invoiced_cents": 0,
            "paid_cents": 0,
            "outstanding_cents": 0,
            "overdue_cents": 0,
            "next_due_date": None,
        }
        for s in student_ids
    }
    for invoice in invoices:
        entry, owed = result[invoice.student_id], sums[invoice.id]
        entry["invoiced_cents"] += owed.total
        entry["paid_cents"] += owed.paid
        entry["outstanding_cents"] += owed.outstanding
        if owed.outstanding > 0 and invoice.due_date < today:
            entry["overdue_cents"] += owed.outstanding
        elif owed.outstanding > 0 and (
            entry["next_due_date"] is None or invoice.due_date < entry["next_due_date"]
        ):
            entry["next_due_date"] = invoice.due_date
    return result
