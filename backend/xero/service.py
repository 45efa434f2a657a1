"""What admins see and do of a school's Xero connection once it is made (connecting is
`connecting.py`): status, the school's codes, disconnect (revoked at Xero, tokens deleted), a full
sync of what is not in Xero yet, and the jobs queued with each change of money."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select

from backend import audit, fees, jobs
from backend.config import Settings, current_settings
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.tenancy import AuthContext
from backend.xero import client
from backend.xero.models import ConnectionState, LinkKind, XeroConnection, XeroLink
from backend.xero.schemas import (
    DisconnectOut,
    JobCountsOut,
    OrganisationOut,
    StatusOut,
    SyncOut,
    XeroSettingsIn,
)
from backend.xero.tokens import connection_of, locked_connection

log = structlog.get_logger("homeroom.xero")
REFRESH_TOKEN_LIFETIME = timedelta(days=60)  # Xero drops a refresh token unused this long
KINDS = ("xero.invoice", "xero.payment", "xero.reversal", "xero.webhook", "xero.keepalive")


def require_configured(settings: Settings) -> None:
    """The feature is off until its settings are there: say which are missing (404)."""
    missing = settings.xero_missing
    if missing:
        raise NotFound(
            f"The Xero integration is not configured on this server: set {', '.join(missing)}.",
            missing_settings=missing,
        )


def _job_counts(school_id: uuid.UUID) -> JobCountsOut:
    counts = {
        state: sum(n for kind, n in kinds.items() if kind in KINDS)
        for state, kinds in jobs.counts(school_id=school_id).items()
    }
    return JobCountsOut(queued=counts.get("queued", 0) + counts.get("running", 0), dead=counts.get("dead", 0))


def _live(connection: XeroConnection) -> dict[str, Any]:
    """What only a connection in use has: its organisation, when it was made, its tokens' expiry."""
    return {
        "organisation": OrganisationOut(tenant_id=connection.tenant_id, name=connection.tenant_name)
        if connection.tenant_id
        else None,
        "connected_at": connection.connected_at,
        "access_token_expires_at": connection.access_expires_at,
        # Once Xero has refused the refresh token, it expires at no later date.
        "refresh_token_expires_at": connection.refreshed_at + REFRESH_TOKEN_LIFETIME
        if connection.refreshed_at and connection.state == ConnectionState.CONNECTED
        else None,
    }


NOTHING_LIVE = dict.fromkeys(
    ("organisation", "connected_at", "access_token_expires_at", "refresh_token_expires_at")
)


def status_of(settings: Settings, connection: XeroConnection | None) -> StatusOut:
    if connection is None:
        connection = XeroConnection(state=ConnectionState.DISABLED.value)
    live = NOTHING_LIVE if connection.state == ConnectionState.DISABLED else _live(connection)
    return StatusOut(
        state=ConnectionState(connection.state),
        last_sync_at=connection.last_sync_at,
        last_error=connection.last_error,
        sales_account_code=connection.sales_account_code or settings.xero_sales_account_code,
        payment_account_code=connection.payment_account_code or settings.xero_payment_account_code,
        tax_type=connection.tax_type or settings.xero_tax_type,
        jobs=_job_counts(connection.school_id) if connection.school_id else JobCountsOut(queued=0, dead=0),
        **live,
    )


def status(settings: Settings, auth: AuthContext) -> StatusOut:
    return status_of(settings, connection_of(auth.school_id))


def update_settings(settings: Settings, auth: AuthContext, data: XeroSettingsIn) -> StatusOut:
    connection = connection_of(auth.school_id)
    if connection is None:
        connection = XeroConnection(
            school_id=auth.school_id, state=ConnectionState.DISABLED.value, lock_version=0
        )
        db.session.add(connection)
    changes = {}
    for name in data.model_fields_set:
        changes[name] = {"before": getattr(connection, name), "after": getattr(data, name)}
        setattr(connection, name, getattr(data, name))
    audit.record(auth, "xero.settings", resource=connection, resource_type="xero_connection", changes=changes)
    db.session.commit()
    return status_of(settings, connection)


def disconnect(settings: Settings, auth: AuthContext) -> DisconnectOut:
    """Revoke the grant at Xero (best effort: the tokens are deleted here whatever Xero says), under
    the connection's lock, so that no refresh rotates the token being revoked."""
    connection = locked_connection(auth.school_id)
    if connection is None or connection.state == ConnectionState.DISABLED:
        raise Conflict("The school is not connected to Xero.")
    revoked = False
    if connection.refresh_token:
        try:
            client.revoke(settings, connection.refresh_token)
            revoked = True
        except client.XeroError as error:
            log.warning("xero_revocation_failed", school_id=str(auth.school_id), error=str(error))
    connection.state = ConnectionState.DISABLED.value
    connection.access_token = connection.refresh_token = None
    connection.access_expires_at = connection.refreshed_at = connection.paused_until = None
    audit.record(
        auth,
        "xero.disconnect",
        resource=connection,
        resource_type="xero_connection",
        changes={"revoked": revoked},
    )
    db.session.commit()
    return DisconnectOut(revoked=revoked, status=status_of(settings, connection))


def sync_all(settings: Settings, auth: AuthContext) -> SyncOut:
    """Queue what Xero lacks (`queue_missing`); each event is queued once, whatever the calls."""
    connection = connection_of(auth.school_id)
    if connection is None or connection.state != ConnectionState.CONNECTED:
        raise Conflict(
            "Connect the school to Xero first.", state=connection.state if connection else "disabled"
        )
    queued = queue_missing(auth.school_id)
    audit.record(auth, "xero.sync", changes=queued.model_dump())
    db.session.commit()
    return queued


def queue_missing(school_id: uuid.UUID) -> SyncOut:
    """Jobs for what the school's organisation lacks: every issued invoice and live payment not
    in Xero yet, and the reversal of every payment in Xero that was reversed here (while
    disconnected, say). The caller commits."""
    synced = select(XeroLink.local_id).where(XeroLink.school_id == school_id)
    reversed_ = select(fees.PaymentReversal.payment_id).where(fees.PaymentReversal.school_id == school_id)
    invoices = db.session.scalars(
        select(fees.Invoice.id).where(
            fees.Invoice.school_id == school_id,
            fees.Invoice.state == fees.InvoiceState.ISSUED.value,
            fees.Invoice.id.not_in(synced),
        )
    ).all()
    payments = db.session.scalars(
        select(fees.Payment.id).where(
            fees.Payment.school_id == school_id,
            fees.Payment.id.not_in(synced),
            fees.Payment.id.not_in(reversed_),
        )
    ).all()
    undone = db.session.scalars(
        select(XeroLink.local_id).where(
            XeroLink.school_id == school_id,
            XeroLink.kind == LinkKind.PAYMENT.value,
            XeroLink.local_id.in_(reversed_),
        )
    ).all()
    return SyncOut(
        invoices_queued=sum(enqueue("xero.invoice", school_id, invoice_id) for invoice_id in invoices),
        payments_queued=sum(enqueue("xero.payment", school_id, payment_id) for payment_id in payments),
        reversals_queued=sum(enqueue("xero.reversal", school_id, payment_id) for payment_id in undone),
    )


# --- jobs, queued with the change that causes them -------------------------------------------------


def syncing(school_id: uuid.UUID) -> bool:
    """Whether the school's changes go to Xero (connected, or waiting for a reconnect)."""
    if current_settings().xero_missing:
        return False
    state = db.session.scalar(select(XeroConnection.state).where(XeroConnection.school_id == school_id))
    return state in (ConnectionState.CONNECTED, ConnectionState.NEEDS_RECONNECT)


# Each kind of sync job and the payload key of the record it sends; its dedup key is `<kind>:<id>`.
PAYLOAD_KEYS = {"xero.invoice": "invoice_id", "xero.payment": "payment_id", "xero.reversal": "payment_id"}


def enqueue(kind: str, school_id: uuid.UUID, record_id: uuid.UUID, *, dedup_key: str | None = None) -> bool:
    """Queue the sync job of `kind` for one record (once per event); whether it was queued now."""
    job = jobs.enqueue(
        kind,
        {PAYLOAD_KEYS[kind]: str(record_id)},
        dedup_key=dedup_key or f"{kind}:{record_id}",
        school_id=school_id,
    )
    return job is not None


def enqueue_if_syncing(kind: str, school_id: uuid.UUID, record_id: uuid.UUID) -> None:
    """A change of money announced by fees: queued when the school's changes go to Xero."""
    if syncing(school_id):
        enqueue(kind, school_id, record_id)
