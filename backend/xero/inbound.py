"""What comes back from Xero: an event its webhook sent (queued by `webhooks.py` as an
`xero.webhook` job) about an invoice Homeroom synced; each payment recorded in Xero against it
becomes a payment in Homeroom, once (the link map), and a payment Homeroom sent itself is
recognised by its Reference and linked, never taken in twice. Also the keep-alive of idle refresh
tokens (`xero.keepalive`)."""

from __future__ import annotations

import re
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
from backend.jobs import GiveUp, Job
from backend.tenancy import Role
from backend.xero import client, tokens
from backend.xero.gate import Organisation
from backend.xero.links import first, link, local_id, own_payment, reversed_here, synced, xero_id
from backend.xero.models import LinkKind, XeroConnection
from backend.xero.service import enqueue

log = structlog.get_logger("homeroom.xero")
ACCOUNTING = client.ACCOUNTING
XERO_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")  # Xero's JSON dates: milliseconds since 1970


def _xero_date(value: Any) -> datetime:
    """Xero's `/Date(1764720000000+0000)/` or an ISO date, as a UTC time."""
    text = str(value or "")
    try:
        if match := XERO_DATE.match(text):
            return datetime.fromtimestamp(int(match[1]) / 1000, UTC)
        return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time(), UTC)
    except (ValueError, OverflowError, OSError):
        return utcnow()  # a date Xero never sends: the payment is still taken, dated now


def _receiver(connection: XeroConnection) -> uuid.UUID:
    """Who a payment from Xero is recorded as received by: the admin who connected Xero, else
    any admin of the school."""
    if connection.connected_by is not None:
        return connection.connected_by
    admin = db.session.scalar(
        select(User.id)
        .where(User.school_id == connection.school_id, User.role == Role.ADMIN.value)
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
    for paid in first(answer, "Invoices").get("Payments") or []:
        _take_payment(organisation.connection, invoice_id, paid)
    synced(organisation.connection)


def _take_payment(connection: XeroConnection, invoice_id: uuid.UUID, paid: dict[str, Any]) -> None:
    school_id, payment_xero = connection.school_id, str(paid.get("PaymentID") or "")
    if not payment_xero or local_id(school_id, LinkKind.PAYMENT, payment_xero) is not None:
        return  # taken already, or sent from here and linked
    ours = own_payment(paid.get("Reference"))
    if ours is not None:  # sent from here, its job not finished yet: link it, never take it twice
        known = db.session.scalar(
            select(fees.Payment.id).where(fees.Payment.id == ours, fees.Payment.school_id == school_id)
        )
        if known is not None and xero_id(school_id, LinkKind.PAYMENT, ours) is None:
            link(school_id, LinkKind.PAYMENT, ours, payment_xero)
            if reversed_here(ours):  # reversed before it was linked: its deletion is still owed
                enqueue("xero.reversal", school_id, ours, dedup_key=f"xero.reversal:{ours}:{payment_xero}")
            db.session.commit()
        return
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
    link(connection.school_id, LinkKind.PAYMENT, payment.id, payment_xero)
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
