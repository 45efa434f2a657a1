"""Connecting a school to Xero and what admins see of it: connect (authorisation URL with state and
PKCE), the callback (code exchange, the organisation chosen), status, the school's codes,
disconnect (revoked at Xero, tokens deleted) and a full sync of what is not in Xero yet."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select

from backend import audit, fees, jobs
from backend.config import Settings, current_settings
from backend.core.errors import BadRequest, Conflict, NotFound, UpstreamError
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.tenancy import AuthContext, platform_access
from backend.xero import client
from backend.xero.models import ConnectionState, XeroAuthorization, XeroConnection, XeroLink
from backend.xero.schemas import (
    CallbackQuery,
    ConnectOut,
    DisconnectOut,
    JobCountsOut,
    OrganisationOut,
    StatusOut,
    SyncOut,
    XeroSettingsIn,
)
from backend.xero.tokens import connection_of

log = structlog.get_logger("homeroom.xero")
AUTHORIZATION_TTL = timedelta(minutes=10)
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


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def start_connect(settings: Settings, auth: AuthContext) -> ConnectOut:
    """A single-use state and PKCE verifier bound to this admin and school; the URL to send them to."""
    state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    expires_at = utcnow() + AUTHORIZATION_TTL
    db.session.execute(delete(XeroAuthorization).where(XeroAuthorization.expires_at < utcnow()))
    db.session.add(
        XeroAuthorization(
            school_id=auth.school_id,
            state_hash=_state_hash(state),
            code_verifier=verifier,
            user_id=auth.user_id,
            expires_at=expires_at,
        )
    )
    db.session.commit()
    return ConnectOut(
        authorize_url=client.authorization_url(settings, state, verifier), expires_at=expires_at
    )


@dataclass(frozen=True)
class Pending:
    school_id: uuid.UUID
    user_id: uuid.UUID
    code_verifier: str


def _take_authorization(state: str) -> Pending:
    """The pending connect this state belongs to, deleted as it is read: of two callbacks with the
    same state, one gets it (single use)."""
    with platform_access("xero callback: the state names the school"):
        taken = db.session.execute(
            delete(XeroAuthorization)
            .where(XeroAuthorization.state_hash == _state_hash(state))
            .returning(
                XeroAuthorization.school_id,
                XeroAuthorization.user_id,
                XeroAuthorization.code_verifier,
                XeroAuthorization.expires_at,
            )
        ).one_or_none()
        db.session.commit()
    if taken is None or taken.expires_at < utcnow():
        raise BadRequest("This Xero approval is unknown, used or expired: start the connection again.")
    return Pending(taken.school_id, taken.user_id, taken.code_verifier)


def _organisation(settings: Settings, tokens: client.TokenSet) -> dict[str, str]:
    """The organisation just approved: of the connections this grant reaches, the newest."""
    connections = [
        c
        for c in client.Api(settings, tokens.access_token).connections()
        if c.get("tenantType") == "ORGANISATION"
    ]
    if not connections:
        raise Conflict("Xero approved the connection but gave access to no organisation.")
    newest = max(connections, key=lambda c: str(c.get("createdDateUtc") or ""))
    return {"tenant_id": str(newest["tenantId"]), "name": str(newest.get("tenantName") or "")}


def finish_connect(settings: Settings, query: CallbackQuery) -> StatusOut:
    pending = _take_authorization(query.state)
    if query.error or not query.code:
        raise BadRequest(f"Xero did not approve the connection ({query.error or 'no code'}).")
    try:
        tokens = client.exchange_code(settings, query.code, pending.code_verifier)
        organisation = _organisation(settings, tokens)
    except client.XeroError as error:
        raise UpstreamError(f"Xero did not complete the connection: {error}") from None
    with platform_access("xero callback: the state names the school"):
        connection = _connected(pending, tokens, organisation)
        db.session.commit()
        log.info("xero_connected", school_id=str(pending.school_id), tenant_id=organisation["tenant_id"])
        return status_of(settings, connection)


def _connected(pending: Pending, tokens: client.TokenSet, organisation: dict[str, str]) -> XeroConnection:
    connection = connection_of(pending.school_id) or XeroConnection(
        school_id=pending.school_id, lock_version=0
    )
    if connection.tenant_id not in (None, organisation["tenant_id"]):
        # Another organisation: the old ids name records that are not in this one.
        db.session.execute(delete(XeroLink).where(XeroLink.school_id == pending.school_id))
    connection.state = ConnectionState.CONNECTED.value
    connection.tenant_id, connection.tenant_name = organisation["tenant_id"], organisation["name"]
    connection.access_token, connection.refresh_token = tokens.access_token, tokens.refresh_token
    connection.access_expires_at, connection.refreshed_at = tokens.expires_at, utcnow()
    connection.connected_at, connection.connected_by = utcnow(), pending.user_id
    connection.last_error = connection.paused_until = None
    db.session.add(connection)
    jobs.wake(KINDS, pending.school_id)  # what waited for a reconnect goes now
    audit.record(
        None,
        "xero.connect",
        resource=connection,
        resource_type="xero_connection",
        school_id=pending.school_id,
        changes={"tenant_id": organisation["tenant_id"], "connected_by": pending.user_id},
    )
    return connection


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
        "refresh_token_expires_at": connection.refreshed_at + REFRESH_TOKEN_LIFETIME
        if connection.refreshed_at
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
    """Revoke the grant at Xero (best effort: the tokens are deleted here whatever Xero says)."""
    connection = connection_of(auth.school_id)
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
    """Queue every issued invoice and live payment of the school that is not in Xero yet."""
    connection = connection_of(auth.school_id)
    if connection is None or connection.state != ConnectionState.CONNECTED:
        raise Conflict(
            "Connect the school to Xero first.", state=connection.state if connection else "disabled"
        )
    synced = select(XeroLink.local_id).where(auth.owns(XeroLink))
    invoices = db.session.scalars(
        auth.scoped(fees.Invoice).where(
            fees.Invoice.state == fees.InvoiceState.ISSUED.value, fees.Invoice.id.not_in(synced)
        )
    ).all()
    payments = db.session.scalars(
        auth.scoped(fees.Payment).where(
            fees.Payment.id.not_in(synced),
            fees.Payment.id.not_in(select(fees.PaymentReversal.payment_id)),
        )
    ).all()
    queued_invoices = sum(enqueue_invoice(auth.school_id, invoice.id) for invoice in invoices)
    queued_payments = sum(enqueue_payment(auth.school_id, payment.id) for payment in payments)
    audit.record(auth, "xero.sync", changes={"invoices": queued_invoices, "payments": queued_payments})
    db.session.commit()
    return SyncOut(invoices_queued=queued_invoices, payments_queued=queued_payments)


# --- jobs, queued with the change that causes them -------------------------------------------------


def syncing(school_id: uuid.UUID) -> bool:
    """Whether the school's changes go to Xero (connected, or waiting for a reconnect)."""
    if current_settings().xero_missing:
        return False
    state = db.session.scalar(select(XeroConnection.state).where(XeroConnection.school_id == school_id))
    return state in (ConnectionState.CONNECTED, ConnectionState.NEEDS_RECONNECT)


def enqueue_invoice(school_id: uuid.UUID, invoice_id: uuid.UUID) -> bool:
    job = jobs.enqueue(
        "xero.invoice",
        {"invoice_id": str(invoice_id)},
        dedup_key=f"xero.invoice:{invoice_id}",
        school_id=school_id,
    )
    return job is not None


def enqueue_payment(school_id: uuid.UUID, payment_id: uuid.UUID) -> bool:
    job = jobs.enqueue(
        "xero.payment",
        {"payment_id": str(payment_id)},
        dedup_key=f"xero.payment:{payment_id}",
        school_id=school_id,
    )
    return job is not None


def enqueue_reversal(school_id: uuid.UUID, payment_id: uuid.UUID) -> bool:
    job = jobs.enqueue(
        "xero.reversal",
        {"payment_id": str(payment_id)},
        dedup_key=f"xero.reversal:{payment_id}",
        school_id=school_id,
    )
    return job is not None
