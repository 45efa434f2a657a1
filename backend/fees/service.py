"""Invoices, payments and balances. Totals and statuses are computed from lines and payments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select, true

from backend import audit
from backend.core.db import commit_unique
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.core.pagination import Page, keyset, page_of
from backend.fees import events
from backend.fees.balances import payment_status, student_balances, totals
from backend.fees.models import Invoice, InvoiceLine, InvoiceState, Payment, PaymentMethod, PaymentReversal
from backend.fees.schemas import (
    BalanceOut,
    InvoiceIn,
    InvoiceListQuery,
    InvoiceOut,
    InvoiceSummaryOut,
    LineOut,
    PaymentIn,
    PaymentOut,
    ReversalOut,
)
from backend.students import GuardianLink, Student
from backend.tenancy import AuthContext, Role

# --- who sees money -------------------------------------------------------------------------------


def finance_students(auth: AuthContext) -> ColumnElement[bool]:
    """Students whose fees the caller may see: all for admins; for parents, linked children whose
    link has can_view_finance."""
    if auth.role == Role.ADMIN:
        return true()
    return Student.id.in_(
        select(GuardianLink.student_id).where(
            GuardianLink.user_id == auth.user_id,
            auth.owns(GuardianLink),
            GuardianLink.can_view_finance.is_(True),
        )
    )


def _invoice_for(auth: AuthContext, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice:
    statement = (
        auth.scoped(Invoice)
        .join(Student, Student.id == Invoice.student_id)
        .where(Invoice.id == invoice_id, finance_students(auth))
    )
    invoice = db.session.scalar(statement.with_for_update(of=Invoice) if lock else statement)
    if invoice is None:
        raise NotFound("Invoice not found.")
    return invoice


def _payment_out(payment: Payment, reversal: PaymentReversal | None) -> PaymentOut:
    """A payment and its reversal, if it was reversed."""
    return PaymentOut(
        id=payment.id,
        invoice_id=payment.invoice_id,
        amount_cents=payment.amount_cents,
        method=PaymentMethod(payment.method),
        reference=payment.reference,
        paid_at=payment.paid_at,
        received_by=payment.received_by,
        reversal=None if reversal is None else ReversalOut.model_validate(reversal),
    )


def summaries(auth: AuthContext, invoices: list[Invoice]) -> list[InvoiceSummaryOut]:
    """Each invoice with its totals and payment status (computed, never stored)."""
    sums, today = totals(i.id for i in invoices), auth.today()
    return [
        InvoiceSummaryOut(
            id=i.id,
            student_id=i.student_id,
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            state=InvoiceState(i.state),
            currency=auth.currency,
            total_cents=sums[i.id].total,
            paid_cents=sums[i.id].paid,
            outstanding_cents=sums[i.id].outstanding,
            status=payment_status(i, sums[i.id], today),
        )
        for i in invoices
    ]


def invoice_detail(auth: AuthContext, invoice: Invoice) -> InvoiceOut:
    lines = db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    ).all()
    payments = db.session.execute(
        select(Payment, PaymentReversal)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.invoice_id == invoice.id)
        .order_by(Payment.paid_at, Payment.id)
    )
    summary = summaries(auth, [invoice])[0]
    return InvoiceOut(
        **dict(summary),
        lines=[LineOut.model_validate(line) for line in lines],
        payments=[_payment_out(p, r) for p, r in payments],
    )


# --- invoices -----------------------------------------------------------------------------------


def list_invoices(auth: AuthContext, query: InvoiceListQuery) -> Page[InvoiceSummaryOut]:
    statement = (
        auth.scoped(Invoice).join(Student, Student.id == Invoice.student_id).where(finance_students(auth))
    )
    if query.student_id is not None:
        statement = statement.where(Invoice.student_id == query.student_id)
    if query.state is not None:
        statement = statement.where(Invoice.state == query.state.value)
    rows = db.session.scalars(keyset(statement, (Invoice.due_date, Invoice.id), query)).all()
    page = page_of(rows, query, lambda i: [i.due_date, i.id])
    return Page(summaries(auth, page.items), page.next_cursor)


def get_invoice(auth: AuthContext, invoice_id: uuid.UUID) -> InvoiceOut:
    return invoice_detail(auth, _invoice_for(auth, invoice_id))


def create_invoice(auth: AuthContext, data: InvoiceIn) -> InvoiceOut:
    if db.session.scalar(auth.scoped(Student).where(Student.id == data.student_id)) is None:
        raise ValidationFailed.on("body.student_id", "No student with this id in the school.")
    issue_date = data.issue_date or auth.today()
    if data.due_date < issue_date:
        raise ValidationFailed.on("body.due_date", "Cannot be before the issue date.")
    invoice = Invoice(
        id=uuid.uuid4(),
        school_id=auth.school_id,
        student_id=data.student_id,
        number=data.number,
        issue_date=issue_date,
        due_date=data.due_date,
        state=InvoiceState.DRAFT.value,
        created_by=auth.user_id,
    )
    db.session.add(invoice)
    db.session.add_all(
        [
            InvoiceLine(school_id=auth.school_id, invoice_id=invoice.id, position=n, **line.model_dump())
            for n, line in enumerate(data.lines)
        ]
    )
    audit.record(
        auth,
        "invoice.create",
        resource=invoice,
        resource_type="invoice",
        changes={
            "number": data.number,
            "student_id": data.student_id,
            "total_cents": sum(line.amount_cents for line in data.lines),
        },
    )
    commit_unique(f"Invoice number {data.number!r} is already in use.")
    return invoice_detail(auth, invoice)


def issue_invoice(auth: AuthContext, invoice_id: uuid.UUID) -> InvoiceOut:
    invoice = _invoice_for(auth, invoice_id, lock=True)
    if invoice.state != InvoiceState.DRAFT:
        raise Conflict(f"Only a draft can be issued; this invoice is {invoice.state}.")
    invoice.state = InvoiceState.ISSUED.value
    audit.record(
        auth,
        "invoice.issue",
        resource=invoice,
        resource_type="invoice",
        changes={"state": {"before": "draft", "after": "issued"}},
    )
    events.invoice_issued.send(None, school_id=auth.school_id, invoice_id=invoice.id)
    db.session.commit()
    return invoice_detail(auth, invoice)


def void_invoice(auth: AuthContext, invoice_id: uuid.UUID) -> InvoiceOut:
    invoice = _invoice_for(auth, invoice_id, lock=True)
    if invoice.state == InvoiceState.VOID:
        raise Conflict("The invoice is already void.")
    if totals([invoice.id])[invoice.id].paid:
        raise Conflict("The invoice has payments; reverse them before voiding it.")
    before, invoice.state = invoice.state, InvoiceState.VOID.value
    audit.record(
        auth,
        "invoice.void",
        resource=invoice,
        resource_type="invoice",
        changes={"state": {"before": before, "after": "void"}},
    )
    db.session.commit()
    return invoice_detail(auth, invoice)


# --- payments -----------------------------------------------------------------------------------


def _take_payment(invoice: Invoice, amount_cents: int, **fields: object) -> Payment:
    """The one rule for taking money on an invoice (its row locked by the caller, so two payments
    cannot both see the same outstanding amount): issued invoices only, never more than is
    outstanding. The payment is added and announced; the caller audits and commits."""
    if invoice.state != InvoiceState.ISSUED:
        raise Conflict(f"Payments are taken on issued invoices only; this one is {invoice.state}.")
    outstanding = totals([invoice.id])[invoice.id].outstanding
    if amount_cents > outstanding:
        raise Conflict(
            f"That would overpay the invoice: {outstanding} is outstanding.", outstanding_cents=outstanding
        )
    payment = Payment(
        id=uuid.uuid4(),
        school_id=invoice.school_id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        created_at=utcnow(),
        **fields,
    )
    db.session.add(payment)
    events.payment_recorded.send(None, school_id=invoice.school_id, payment_id=payment.id)
    return payment


def create_payment(auth: AuthContext, invoice_id: uuid.UUID, data: PaymentIn) -> PaymentOut:
    """Record a payment on an issued invoice. The caller commits (with the idempotency record)."""
    invoice = _invoice_for(auth, invoice_id, lock=True)
    payment = _take_payment(
        invoice,
        data.amount_cents,
        method=data.method.value,
        reference=data.reference,
        paid_at=data.paid_at or utcnow(),
        received_by=auth.user_id,
    )
    audit.record(
        auth,
        "payment.create",
        resource=payment,
        resource_type="payment",
        changes={"invoice_id": invoice.id, "amount_cents": data.amount_cents, "method": data.method},
    )
    return _payment_out(payment, None)


def record_external_payment(
    school_id: uuid.UUID,
    invoice_id: uuid.UUID,
    *,
    amount_cents: int,
    paid_at: datetime,
    reference: str,
    received_by: uuid.UUID,
    source: str,
) -> Payment:
    """A payment the school recorded in another system (its accounting), on an issued invoice of
    the school, under the same rule as one recorded here. The caller commits."""
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.school_id == school_id).with_for_update()
    )
    if invoice is None:
        raise NotFound("Invoice not found.")
    payment = _take_payment(
        invoice,
        amount_cents,
        method=PaymentMethod.OTHER.value,
        reference=reference[:100],
        paid_at=paid_at,
        received_by=received_by,
    )
    audit.record(
        None,
        "payment.create",
        resource=payment,
        resource_type="payment",
        school_id=school_id,
        changes={"invoice_id": invoice.id, "amount_cents": amount_cents, "source": source},
    )
    return payment


def payment_detail(payment: Payment) -> PaymentOut:
    reversal = db.session.scalar(select(PaymentReversal).where(PaymentReversal.payment_id == payment.id))
    return _payment_out(payment, reversal)


def reverse_payment(auth: AuthContext, payment_id: uuid.UUID, reason: str) -> PaymentOut:
    payment = db.session.scalar(auth.scoped(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("Payment not found.")
    _invoice_for(auth, payment.invoice_id, lock=True)
    reversal = PaymentReversal(
        school_id=auth.school_id,
        payment_id=payment.id,
        reason=reason,
        reversed_by=auth.user_id,
        reversed_at=utcnow(),
    )
    db.session.add(reversal)
    audit.record(
        auth,
        "payment.reverse",
        resource=payment,
        resource_type="payment",
        changes={"amount_cents": payment.amount_cents, "reason": reason},
    )
    events.payment_reversed.send(None, school_id=auth.school_id, payment_id=payment.id)
    commit_unique("The payment is already reversed.")
    return payment_detail(payment)


def student_balance(auth: AuthContext, student_id: uuid.UUID) -> BalanceOut:
    if (
        db.session.scalar(auth.scoped(Student).where(Student.id == student_id, finance_students(auth)))
        is None
    ):
        raise NotFound("Student not found.")
    return student_balances(auth, [student_id])[student_id]
