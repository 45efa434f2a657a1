"""The jobs that keep a school's Xero organisation in step with Homeroom, one kind per event:

- `xero.invoice`: the contact for the paying guardian (created once, then reused), and the
  `ACCREC` invoice with the school's sales account code and tax type;
- `xero.payment`: the payment against that invoice (into the payment account);
- `xero.reversal`: the payment deleted in Xero;
- `xero.webhook`: an event Xero sent; a payment recorded in Xero against a synced invoice becomes
  a payment in Homeroom;
- `xero.keepalive`: a refresh token used too long ago is refreshed before Xero drops it.

Every write carries an Idempotency-Key made of the job and the step, and each step commits the
Xero id it got before the next starts: a job run again after a crash resends the same key (Xero
replays its first answer) or skips the step it finished, so nothing is created twice.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select

from backend import fees
from backend.auth import User
from backend.config import Settings
from backend.core.errors import ApiError
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs import Defer, GiveUp, Handler, Job, JobStatus
from backend.students import GuardianLink, Student
from backend.xero import client, tokens
from backend.xero.gate import Organisation
from backend.xero.models import LinkKind, XeroConnection, XeroLink

log = structlog.get_logger("homeroom.xero")
ACCOUNTING = client.ACCOUNTING
NOT_READY = 60.0  # a payment whose invoice is not in Xero yet looks again this much later


def xero_id(school_id: uuid.UUID, kind: LinkKind, local_id: uuid.UUID) -> str | None:
    return db.session.scalar(
        select(XeroLink.xero_id).where(
            XeroLink.school_id == school_id, XeroLink.kind == kind.value, XeroLink.local_id == local_id
        )
    )


def local_id(school_id: uuid.UUID, kind: LinkKind, xero: str) -> uuid.UUID | None:
    return db.session.scalar(
        select(XeroLink.local_id).where(
            XeroLink.school_id == school_id, XeroLink.kind == kind.value, XeroLink.xero_id == xero
        )
    )


def _link(school_id: uuid.UUID, kind: LinkKind, local: uuid.UUID, xero: str) -> None:
    db.session.add(
        XeroLink(school_id=school_id, kind=kind.value, local_id=local, xero_id=xero, created_at=utcnow())
    )


def _money(cents: int) -> float:
    return float(Decimal(cents) / 100)


def _synced(connection: XeroConnection) -> None:
    connection.last_sync_at, connection.last_error = utcnow(), None


def _first(answer: Any, collection: str) -> dict[str, Any]:
    try:
        item = answer[collection][0]
    except (KeyError, IndexError, TypeError):
        raise client.Unavailable(f"Xero's answer had no {collection}") from None
    if not isinstance(item, dict):
        raise client.Unavailable(f"Xero's answer had no {collection}")
    return item


def _key(job: Job, step: str) -> str:
    return f"homeroom-{job.id}-{step}"


def _settings_of(settings: Settings, connection: XeroConnection) -> tuple[str, str, str]:
    return (
        connection.sales_account_code or settings.xero_sales_account_code,
        connection.payment_account_code or settings.xero_payment_account_code,
        connection.tax_type or settings.xero_tax_type,
    )


# --- invoices ------------------------------------------------------------------------------------


def _payer(student: Student) -> tuple[uuid.UUID, dict[str, Any]]:
    """Who pays: a guardian (those allowed to see fees first, then the primary one), else the
    student's family; its local id and the Xero contact (names are unique in Xero, so the email or
    admission number is part of it)."""
    guardian = db.session.scalar(
        select(User)
        .join(GuardianLink, GuardianLink.user_id == User.id)
        .where(GuardianLink.student_id == student.id)
        .order_by(
            GuardianLink.can_view_finance.desc(),
            GuardianLink.is_primary.desc(),
            GuardianLink.created_at,
            User.id,
        )
        .limit(1)
    )
    if guardian is not None:
        return guardian.id, {
            "Name": f"{guardian.full_name} ({guardian.email})",
            "EmailAddress": guardian.email,
        }
    name = f"Family of {student.first_name} {student.last_name} ({student.admission_number})"
    return student.id, {"Name": name}


def _contact(job: Job, organisation: Organisation, student: Student) -> str:
    payer_id, contact = _payer(student)
    existing = xero_id(student.school_id, LinkKind.CONTACT, payer_id)
    if existing is not None:
        return existing
    answer = organisation.call(
        "PUT", f"{ACCOUNTING}/Contacts", {"Contacts": [contact]}, idempotency_key=_key(job, "contact")
    )
    contact_id = str(_first(answer, "Contacts")["ContactID"])
    _link(student.school_id, LinkKind.CONTACT, payer_id, contact_id)
    db.session.commit()
    return contact_id


def sync_invoice(job: Job, settings: Settings) -> None:
    school_id, invoice_id = _ids(job, "invoice_id")
    if xero_id(school_id, LinkKind.INVOICE, invoice_id) is not None:
        return
    invoice = db.session.scalar(
        select(fees.Invoice).where(fees.Invoice.id == invoice_id, fees.Invoice.school_id == school_id)
    )
    if invoice is None or invoice.state != fees.InvoiceState.ISSUED:
        return  # voided or gone before it was synced: nothing to send
    organisation = Organisation.of(settings, school_id)
    student = db.session.get_one(Student, invoice.student_id)
    contact_id = _contact(job, organisation, student)
    sales, _, tax = _settings_of(settings, organisation.connection)
    lines = db.session.scalars(
        select(fees.InvoiceLine)
        .where(fees.InvoiceLine.invoice_id == invoice.id)
        .order_by(fees.InvoiceLine.position)
    ).all()
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "Date": invoice.issue_date.isoformat(),
        "DueDate": invoice.due_date.isoformat(),
        "InvoiceNumber": invoice.number,
        "Reference": f"{student.first_name} {student.last_name} ({student.admission_number})",
        "LineAmountTypes": "Inclusive",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": line.description,
                "Quantity": 1,
                "UnitAmount": _money(line.amount_cents),
                "AccountCode": sales,
                "TaxType": tax,
            }
            for line in lines
        ],
    }
    answer = organisation.call(
        "PUT", f"{ACCOUNTING}/Invoices", {"Invoices": [body]}, idempotency_key=_key(job, "invoice")
    )
    _link(school_id, LinkKind.INVOICE, invoice.id, str(_first(answer, "Invoices")["InvoiceID"]))
    _synced(organisation.connection)


# --- payments ------------------------------------------------------------------------------------


def sync_payment(job: Job, settings: Settings) -> None:
    school_id, payment_id = _ids(job, "payment_id")
    if xero_id(school_id, LinkKind.PAYMENT, payment_id) is not None:
        return  # already there (or it came from Xero in the first place)
    payment = db.session.scalar(
        select(fees.Payment).where(fees.Payment.id == payment_id, fees.Payment.school_id == school_id)
    )
    if payment is None:
        return
    invoice_xero = xero_id(school_id, LinkKind.INVOICE, payment.invoice_id)
    if invoice_xero is None:
        if _pending(f"xero.invoice:{payment.invoice_id}"):  # its invoice is on its way: wait for it
            raise Defer(NOT_READY, "the payment's invoice is not in Xero yet")
        raise client.Unavailable("the payment's invoice is not in Xero (its job is not queued)")
    organisation = Organisation.of(settings, school_id)
    _, account, _ = _settings_of(settings, organisation.connection)
    body = {
        "Invoice": {"InvoiceID": invoice_xero},
        "Account": {"Code": account},
        "Date": payment.paid_at.date().isoformat(),
        "Amount": _money(payment.amount_cents),
        "Reference": (payment.reference or f"Homeroom payment {payment.id}")[:255],
    }
    answer = organisation.call(
        "PUT", f"{ACCOUNTING}/Payments", {"Payments": [body]}, idempotency_key=_key(job, "payment")
    )
    _link(school_id, LinkKind.PAYMENT, payment.id, str(_first(answer, "Payments")["PaymentID"]))
    _synced(organisation.connection)


def sync_reversal(job: Job, settings: Settings) -> None:
    school_id, payment_id = _ids(job, "payment_id")
    payment_xero = xero_id(school_id, LinkKind.PAYMENT, payment_id)
    if payment_xero is None:
        if _pending(f"xero.payment:{payment_id}"):  # its payment is still on its way to Xero
            raise Defer(NOT_READY, "the reversed payment is not in Xero yet")
        return  # the payment never reached Xero: nothing to undo there
    organisation = Organisation.of(settings, school_id)
    organisation.call(
        "POST",
        f"{ACCOUNTING}/Payments/{payment_xero}",
        {"Payments": [{"Status": "DELETED"}]},
        idempotency_key=_key(job, "reversal"),
    )
    _synced(organisation.connection)


# --- from Xero -----------------------------------------------------------------------------------


def _xero_date(value: Any) -> datetime:
    """Xero's `/Date(1764720000000+0000)/` or an ISO date, as a UTC time."""
    text = str(value or "")
    if text.startswith("/Date("):
        milliseconds = int(text[6:].split("+")[0].split("-")[0].rstrip(")/"))
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    try:
        return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time(), UTC)
    except ValueError:
        return utcnow()


def _receiver(connection: XeroConnection) -> uuid.UUID:
    """Who a payment from Xero is recorded as received by: the admin who connected Xero, else
    any admin of the school."""
    if connection.connected_by is not None:
        return connection.connected_by
    admin = db.session.scalar(
        select(User.id)
        .where(User.school_id == connection.school_id, User.role == "admin")
        .order_by(User.created_at)
    )
    if admin is None:
        raise GiveUp("the school has no admin to record Xero's payments under")
    return admin


def from_webhook(job: Job, settings: Settings) -> None:
    """An event from Xero: an invoice we synced may have new payments recorded in Xero."""
    school_id = job.school_id
    if school_id is None or job.payload.get("category") != "INVOICE":
        return
    invoice_id = local_id(school_id, LinkKind.INVOICE, str(job.payload.get("resource_id")))
    if invoice_id is None:
        return  # not an invoice Homeroom sent
    organisation = Organisation.of(settings, school_id)
    answer = organisation.call("GET", f"{ACCOUNTING}/Invoices/{job.payload['resource_id']}")
    for paid in _first(answer, "Invoices").get("Payments") or []:
        _take_payment(organisation.connection, invoice_id, paid)
    _synced(organisation.connection)


def _take_payment(connection: XeroConnection, invoice_id: uuid.UUID, paid: dict[str, Any]) -> None:
    payment_xero = str(paid.get("PaymentID") or "")
    if not payment_xero or local_id(connection.school_id, LinkKind.PAYMENT, payment_xero) is not None:
        return  # ours, or taken already
    cents = int((Decimal(str(paid.get("Amount", 0))) * 100).to_integral_value())
    try:
        payment = fees.record_external_payment(
            connection.school_id,
            invoice_id,
            amount_cents=cents,
            paid_at=_xero_date(paid.get("Date")),
            reference=f"Xero {payment_xero}",
            received_by=_receiver(connection),
            source="xero",
        )
    except ApiError as error:  # void here, or more than is outstanding: a person must look
        raise GiveUp(f"Xero payment {payment_xero}: {error.detail}") from None
    _link(connection.school_id, LinkKind.PAYMENT, payment.id, payment_xero)
    db.session.commit()
    log.info("xero_payment_received", school_id=str(connection.school_id), payment_id=str(payment.id))


def keepalive(job: Job, settings: Settings) -> None:
    """Refresh a refresh token that has gone unused for XERO_REFRESH_IDLE_DAYS."""
    if job.school_id is None:
        return
    try:
        tokens.refresh(settings, job.school_id, idle_only=True)
    except tokens.NotConnected:
        return


def _pending(dedup_key: str) -> bool:
    """Whether the job for this event is still queued or running."""
    state = db.session.scalar(select(Job.status).where(Job.dedup_key == dedup_key))
    return state in (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _ids(job: Job, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    if job.school_id is None or name not in job.payload:
        raise GiveUp(f"the job has no school or no {name}")
    return job.school_id, uuid.UUID(str(job.payload[name]))


def classified(handler: Handler) -> Handler:
    """The runner's terms for Xero's answers: a 4xx is final (dead letter, for a person), a
    connection that cannot be used waits for a reconnect (never a retry storm); the rest is
    retried with backoff."""

    @functools.wraps(handler)
    def run(job: Job, settings: Settings) -> None:
        try:
            handler(job, settings)
        except client.Rejected as error:
            raise GiveUp(str(error)) from None
        except tokens.NotConnected as error:
            raise Defer(tokens.RECONNECT_WAIT, str(error)) from None

    return run


HANDLERS: dict[str, Handler] = {
    kind: classified(handler)
    for kind, handler in {
        "xero.invoice": sync_invoice,
        "xero.payment": sync_payment,
        "xero.reversal": sync_reversal,
        "xero.webhook": from_webhook,
        "xero.keepalive": keepalive,
    }.items()
}
