"""The jobs that send a school's changes of money to its Xero organisation:

- `xero.invoice`: the contact for the paying guardian (created once, then reused), and the
  `ACCREC` invoice with the school's sales account code and tax type;
- `xero.payment`: the payment against that invoice (into the payment account);
- `xero.reversal`: the payment deleted in Xero.

Every write carries an Idempotency-Key (the job's and the step's, or for a contact the payer's,
whichever job creates it), and each step commits the Xero id it got before the next starts: a job
run again after a crash resends the same key (Xero replays its first answer) or skips the step it
finished, so nothing is created twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from backend import fees, jobs
from backend.auth import User
from backend.config import Settings
from backend.core.extensions import db
from backend.jobs import Defer, GiveUp, Job
from backend.students import GuardianLink, Student
from backend.xero import client
from backend.xero.gate import Organisation
from backend.xero.links import first, link, money, own_payment_reference, reversed_here, synced, xero_id
from backend.xero.models import LinkKind, XeroConnection

ACCOUNTING = client.ACCOUNTING
NOT_READY = 60.0  # a payment whose invoice is not in Xero yet looks again this much later


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
    # The key is the payer's, not the job's: two jobs creating one family's contact at once
    # (siblings' invoices on two runners) get Xero's one answer, not a duplicate name refused.
    answer = organisation.call(
        "PUT",
        f"{ACCOUNTING}/Contacts",
        {"Contacts": [contact]},
        idempotency_key=f"homeroom-contact-{payer_id}",
    )
    contact_id = str(first(answer, "Contacts")["ContactID"])
    link(student.school_id, LinkKind.CONTACT, payer_id, contact_id)
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
                "UnitAmount": money(line.amount_cents),
                "AccountCode": sales,
                "TaxType": tax,
            }
            for line in lines
        ],
    }
    answer = organisation.call(
        "PUT", f"{ACCOUNTING}/Invoices", {"Invoices": [body]}, idempotency_key=_key(job, "invoice")
    )
    link(school_id, LinkKind.INVOICE, invoice.id, str(first(answer, "Invoices")["InvoiceID"]))
    synced(organisation.connection)


# --- payments ------------------------------------------------------------------------------------


def sync_payment(job: Job, settings: Settings) -> None:
    school_id, payment_id = _ids(job, "payment_id")
    if xero_id(school_id, LinkKind.PAYMENT, payment_id) is not None:
        return  # already there (or it came from Xero in the first place)
    payment = db.session.scalar(
        select(fees.Payment).where(fees.Payment.id == payment_id, fees.Payment.school_id == school_id)
    )
    if payment is None or reversed_here(payment.id):
        return  # gone, or reversed before it reached Xero: nothing to send
    invoice_xero = xero_id(school_id, LinkKind.INVOICE, payment.invoice_id)
    if invoice_xero is None:
        if jobs.is_pending(f"xero.invoice:{payment.invoice_id}"):  # its invoice is on its way: wait for it
            raise Defer(NOT_READY, "the payment's invoice is not in Xero yet")
        raise client.Unavailable("the payment's invoice is not in Xero (its job is not queued)")
    organisation = Organisation.of(settings, school_id)
    _, account, _ = _settings_of(settings, organisation.connection)
    body = {
        "Invoice": {"InvoiceID": invoice_xero},
        "Account": {"Code": account},
        "Date": payment.paid_at.date().isoformat(),
        "Amount": money(payment.amount_cents),
        "Reference": own_payment_reference(payment.id, payment.reference),
    }
    answer = organisation.call(
        "PUT", f"{ACCOUNTING}/Payments", {"Payments": [body]}, idempotency_key=_key(job, "payment")
    )
    link(school_id, LinkKind.PAYMENT, payment.id, str(first(answer, "Payments")["PaymentID"]))
    synced(organisation.connection)


def sync_reversal(job: Job, settings: Settings) -> None:
    school_id, payment_id = _ids(job, "payment_id")
    payment_xero = xero_id(school_id, LinkKind.PAYMENT, payment_id)
    if payment_xero is None:
        if jobs.is_pending(f"xero.payment:{payment_id}"):  # its payment is still on its way to Xero
            raise Defer(NOT_READY, "the reversed payment is not in Xero yet")
        return  # the payment never reached Xero: nothing to undo there
    organisation = Organisation.of(settings, school_id)
    organisation.call(
        "POST",
        f"{ACCOUNTING}/Payments/{payment_xero}",
        {"Payments": [{"Status": "DELETED"}]},
        idempotency_key=_key(job, "reversal"),
    )
    synced(organisation.connection)


def _ids(job: Job, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    if job.school_id is None or name not in job.payload:
        raise GiveUp(f"the job has no school or no {name}")
    return job.school_id, uuid.UUID(str(job.payload[name]))
