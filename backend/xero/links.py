"""The map between Homeroom's records and Xero's, and the small rules every sync step shares."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend import fees
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.xero import client
from backend.xero.models import LinkKind, XeroConnection, XeroLink

# Every payment Homeroom sends names itself in its Reference, so that the same payment seen again in
# Xero (a webhook racing the job that sent it) is recognised as ours, not taken in as a new one.
OWN_PAYMENT = re.compile(r"\[homeroom:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]")


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


def link(school_id: uuid.UUID, kind: LinkKind, local: uuid.UUID, xero: str) -> None:
    db.session.add(
        XeroLink(school_id=school_id, kind=kind.value, local_id=local, xero_id=xero, created_at=utcnow())
    )


def money(cents: int) -> float:
    return float(Decimal(cents) / 100)


def synced(connection: XeroConnection) -> None:
    connection.last_sync_at, connection.last_error = utcnow(), None


def first(answer: Any, collection: str) -> dict[str, Any]:
    try:
        item = answer[collection][0]
    except (KeyError, IndexError, TypeError):
        raise client.Unavailable(f"Xero's answer had no {collection}") from None
    if not isinstance(item, dict):
        raise client.Unavailable(f"Xero's answer had no {collection}")
    return item


def own_payment_reference(payment_id: uuid.UUID, reference: str | None) -> str:
    """The Reference of a payment Homeroom sends: the office's own words, then our marker (kept
    whole within Xero's 255 characters)."""
    marker = f"[homeroom:{payment_id}]"
    return f"{(reference or 'Homeroom payment')[: 254 - len(marker)]} {marker}"


def own_payment(reference: Any) -> uuid.UUID | None:
    match = OWN_PAYMENT.search(str(reference or ""))
    return uuid.UUID(match[1]) if match else None


def reversed_here(payment_id: uuid.UUID) -> bool:
    """Whether the payment was reversed in Homeroom."""
    reversal = select(fees.PaymentReversal.id).where(fees.PaymentReversal.payment_id == payment_id)
    return db.session.scalar(reversal) is not None
