"""Invoice, payment and balance routes."""

from __future__ import annotations

import uuid

from flask import url_for

from backend.core.api import Headers, api
from backend.core.idempotency import idempotent, idempotent_required
from backend.core.pagination import Page
from backend.fees import bp, service
from backend.fees.schemas import (
    BalanceOut,
    InvoiceIn,
    InvoiceListQuery,
    InvoiceOut,
    InvoiceSummaryOut,
    PaymentIn,
    PaymentOut,
    ReversalIn,
)
from backend.tenancy import current_auth, requires


@bp.get("/invoices")
@requires("fees.read")
@api(query=InvoiceListQuery, response=Page[InvoiceSummaryOut])
def list_invoices(query: InvoiceListQuery) -> Page[InvoiceSummaryOut]:
    """Invoices by due date: the school's for admins, their children's for parents allowed to see fees."""
    return service.list_invoices(current_auth(), query)


@bp.post("/invoices")
@requires("fees.manage")
@idempotent
@api(body=InvoiceIn, response=InvoiceOut, status=201)
def create_invoice(body: InvoiceIn) -> tuple[InvoiceOut, Headers]:
    """Create a draft invoice with its lines."""
    invoice = service.create_invoice(current_auth(), body)
    return invoice, {"Location": url_for("fees.get_invoice", invoice_id=invoice.id)}


@bp.get("/invoices/<uuid:invoice_id>")
@requires("fees.read")
@api(response=InvoiceOut)
def get_invoice(invoice_id: uuid.UUID) -> InvoiceOut:
    """One invoice with its lines, payments, balance and status."""
    return service.get_invoice(current_auth(), invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/issue")
@requires("fees.manage")
@api(response=InvoiceOut, problems=(409,))
def issue_invoice(invoice_id: uuid.UUID) -> InvoiceOut:
    """Issue a draft invoice: it is then payable and can become overdue."""
    return service.issue_invoice(current_auth(), invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/void")
@requires("fees.manage")
@api(response=InvoiceOut, problems=(409,))
def void_invoice(invoice_id: uuid.UUID) -> InvoiceOut:
    """Void an invoice that has no payments left (reverse them first)."""
    return service.void_invoice(current_auth(), invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/payments")
@requires("fees.manage")
@idempotent_required
@api(body=PaymentIn, response=PaymentOut, status=201, problems=(400, 409))
def create_payment(invoice_id: uuid.UUID, body: PaymentIn) -> PaymentOut:
    """Record a payment. Requires an Idempotency-Key header: a repeat replays the first response."""
    return service.create_payment(current_auth(), invoice_id, body)


@bp.post("/payments/<uuid:payment_id>/reverse")
@requires("fees.manage")
@idempotent
@api(body=ReversalIn, response=PaymentOut, problems=(409,))
def reverse_payment(payment_id: uuid.UUID, body: ReversalIn) -> PaymentOut:
    """Reverse a payment (it is never edited or deleted)."""
    return service.reverse_payment(current_auth(), payment_id, body.reason)


@bp.get("/students/<uuid:student_id>/balance")
@requires("fees.read")
@api(response=BalanceOut)
def student_balance(student_id: uuid.UUID) -> BalanceOut:
    """A student's issued invoices summed: invoiced, paid, outstanding, overdue and the next due date."""
    return service.student_balance(current_auth(), student_id)
