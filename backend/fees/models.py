"""Invoices with their lines, payments and payment reversals.

Money is integer minor units in the school's currency. Balances and statuses are computed when
read, never stored; a payment is never edited or deleted, only reversed by a linked record.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class InvoiceState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    VOID = "void"


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"
    OTHER = "other"


class Invoice(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("school_id", "number"),
        CheckConstraint(enum_check("state", InvoiceState), name="state"),
        CheckConstraint("due_date >= issue_date", name="dates"),
        Index("ix_invoices_school_id_student_id_due_date", "school_id", "student_id", "due_date"),
        Index("ix_invoices_school_id_state_due_date", "school_id", "state", "due_date"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(32))
    issue_date: Mapped[date]
    due_date: Mapped[date]
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class InvoiceLine(UUIDPrimaryKey, TenantOwned, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_invoice_lines_invoice_id", "invoice_id", "position"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    amount_cents: Mapped[int] = mapped_column(Integer)


class Payment(UUIDPrimaryKey, TenantOwned, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(enum_check("method", PaymentMethod), name="method"),
        Index("ix_payments_invoice_id_paid_at", "invoice_id", "paid_at"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100))
    paid_at: Mapped[datetime]
    received_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]


class PaymentReversal(UUIDPrimaryKey, TenantOwned, Base):
    """Undoes one payment; a payment has at most one."""

    __tablename__ = "payment_reversals"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    reversed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reversed_at: Mapped[datetime]
