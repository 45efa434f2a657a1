"""Invoice, payment and balance routes."""

from __future__ import annotations

import uuid

from flask import Response, url_for

from backend.auth.access import current_auth, requires
from backend.core.api import Page, api
from backend.core.idempotency import idempotent
from backend.core.responses import json_response, page_response
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


@bp.get("/invoices")
@requires("fees.read")
@api(query=InvoiceListQuery, response=Page[InvoiceSummaryOut])
def list_invoices(query: InvoiceListQuery) -> Response:
    """Invoices by due date: the school's for admins, their children's for parents allowed to see fees."""
    invoices, next_cursor = service.list_invoices(current_auth(), query)
    return page_response(invoices, next_cursor, InvoiceSummaryOut)


@bp.post("/invoices")
@requires("fees.manage")
@api(body=InvoiceIn, response=InvoiceOut, status=201)
def create_invoice(body: InvoiceIn) -> Response:
    """Create a draft invoice with its lines."""
    invoice = service.create_invoice(current_auth(), body)
    location = url_for("fees.get_invoice", invoice_id=invoice["id"])
    return json_response(InvoiceOut.model_validate(invoice), 201, {"Location": location})


@bp.get("/invoices/<uuid:invoice_id>")
@requires("fees.read")
@api(response=InvoiceOut)
def get_invoice(invoice_id: uuid.UUID) -> Response:
    """One invoice with its lines, payments, balance and status."""
    return json_response(InvoiceOut.model_validate(service.get_invoice(current_auth(), invoice_id)))


@bp.post("/invoices/<uuid:invoice_id>/issue")
@requires("fees.manage")
@api(response=InvoiceOut, problems=(409,))
def issue_invoice(invoice_id: uuid.UUID) -> Response:
    """Issue a draft invoice: it is then payable and can become overdue."""
    return json_response(InvoiceOut.model_validate(service.issue_invoice(current_auth(), invoice_id)))


@bp.post("/invoices/<uuid:invoice_id>/void")
@requires("fees.manage")
@api(response=InvoiceOut, problems=(409,))
def void_invoice(invoice_id: uuid.UUID) -> Response:
    """Void an invoice that has no payments left (reverse them first)."""
    return json_response(InvoiceOut.model_validate(service.void_invoice(current_auth(), invoice_id)))


@bp.post("/invoices/<uuid:invoice_id>/payments")
@requires("fees.manage")
@api(body=PaymentIn, response=PaymentOut, status=201, problems=(400, 409))
def create_payment(invoice_id: uuid.UUID, body: PaymentIn) -> Response:
    """Record a payment. Requires an Idempotency-Key header: a repeat replays the first response."""
    auth = current_auth()

    def pay() -> tuple[int, dict[str, object]]:
        payment = service.create_payment(auth, invoice_id, body)
        return 201, PaymentOut.model_validate(service.payment_detail(payment)).model_dump(mode="json")

    return idempotent(auth.school_id, pay)


@bp.post("/payments/<uuid:payment_id>/reverse")
@requires("fees.manage")
@api(body=ReversalIn, response=PaymentOut, problems=(409,))
def reverse_payment(payment_id: uuid.UUID, body: ReversalIn) -> Response:
    """Reverse a payment (it is never edited or deleted)."""
    payment = service.reverse_payment(current_auth(), payment_id, body.reason)
    return json_response(PaymentOut.model_validate(payment))


@bp.get("/students/<uuid:student_id>/balance")
@requires("fees.read")
@api(response=BalanceOut)
def student_balance(student_id: uuid.UUID) -> Response:
    """A student's issued invoices summed: invoiced, paid, outstanding, overdue and the next due date."""
    return json_response(BalanceOut.model_validate(service.student_balance(current_auth(), student_id)))
