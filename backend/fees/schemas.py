"""Request and response bodies for invoices, payments and balances."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from backend.core.pagination import PageQuery
from backend.core.validation import InputModel, Integer, IsoDate, OutputModel, Timestamp
from backend.fees.models import InvoiceState, PaymentMethod

Cents = Annotated[
    Integer, Field(gt=0, le=100_000_000, description="Integer minor units of the school's currency.")
]


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"


class LineIn(InputModel):
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    amount_cents: Cents


class InvoiceIn(InputModel):
    student_id: uuid.UUID
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    issue_date: IsoDate | None = Field(
        default=None, description="Defaults to today in the school's time zone."
    )
    due_date: IsoDate
    lines: list[LineIn] = Field(min_length=1, max_length=100)


class InvoiceListQuery(PageQuery):
    student_id: uuid.UUID | None = None
    state: InvoiceState | None = None


class PaymentIn(InputModel):
    amount_cents: Cents
    method: PaymentMethod
    reference: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    paid_at: Timestamp | None = Field(default=None, description="Defaults to now.")


class ReversalIn(InputModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LineOut(OutputModel):
    description: str
    category: str
    amount_cents: int


class ReversalOut(OutputModel):
    reason: str
    reversed_by: uuid.UUID
    reversed_at: datetime


class PaymentOut(OutputModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    amount_cents: int
    method: PaymentMethod
    reference: str | None
    paid_at: datetime
    received_by: uuid.UUID
    reversal: ReversalOut | None


class InvoiceSummaryOut(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    number: str
    issue_date: date
    due_date: date
    state: InvoiceState
    currency: str
    total_cents: int
    paid_cents: int
    outstanding_cents: int
    status: PaymentStatus | None = Field(description="For issued invoices; null for drafts and void ones.")


class InvoiceOut(InvoiceSummaryOut):
    lines: list[LineOut]
    payments: list[PaymentOut]


class BalanceOut(OutputModel):
    student_id: uuid.UUID
    currency: str
    invoiced_cents: int
    paid_cents: int
    outstanding_cents: int
    overdue_cents: int
    next_due_date: date | None
