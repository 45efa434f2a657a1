"""Connecting a school's Xero organisation: the authorisation URL (a single-use state and a PKCE
verifier bound to the admin and school, valid for minutes), then the callback: the code exchanged,
the organisation this very authorisation approved (its `authEventId`, named in the new access
token), one school per organisation, and whatever waited for a reconnect woken."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
import structlog
from sqlalchemy import delete, select

from backend import audit, jobs
from backend.auth import User
from backend.config import Settings
from backend.core.errors import BadRequest, Conflict, UpstreamError
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.tenancy import AuthContext, Role, platform_access
from backend.xero import client
from backend.xero.models import ConnectionState, XeroAuthorization, XeroConnection, XeroLink
from backend.xero.schemas import CallbackQuery, ConnectOut, StatusOut
from backend.xero.service import KINDS, queue_missing, status_of
from backend.xero.tokens import connection_of, withdraw_reconnect_alerts

log = structlog.get_logger("homeroom.xero")
AUTHORIZATION_TTL = timedelta(minutes=10)
CALLBACK_TASK = "xero callback: the state names the school"


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
    """The pending connect this state belongs to, deleted as it is read (of two callbacks with the
    same state, one gets it), whose admin is still an active admin of the school."""
    with platform_access(CALLBACK_TASK):
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
        admin = None
        if taken is not None:
            admin = db.session.scalar(
                select(User.id).where(
                    User.id == taken.user_id,
                    User.school_id == taken.school_id,
                    User.role == Role.ADMIN.value,
                    User.is_active.is_(True),
                )
            )
    if taken is None or taken.expires_at < utcnow() or admin is None:
        raise BadRequest("This Xero approval is unknown, used or expired: start the connection again.")
    return Pending(taken.school_id, taken.user_id, taken.code_verifier)


def _auth_event(access_token: str) -> str | None:
    """The authorisation an access token comes from (Xero's `authentication_event_id` claim). The
    token came straight from Xero's token endpoint; the claim only picks among our own connections."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    event = claims.get("authentication_event_id")
    return str(event) if event else None


def _organisation(settings: Settings, tokens: client.TokenSet) -> dict[str, str]:
    """The organisation this authorisation approved: `/connections` lists every organisation the
    Xero user ever connected to the app; those of this authorisation carry its event id (of
    several approved at once, the newest)."""
    connections = [
        c
        for c in client.Api(settings, tokens.access_token).connections()
        if c.get("tenantType") == "ORGANISATION"
    ]
    event = _auth_event(tokens.access_token)
    approved = [c for c in connections if c.get("authEventId") == event] if event else connections
    if not approved:
        raise Conflict(
            "Xero approved the connection but gave access to no organisation: connect again and pick one."
        )
    newest = max(approved, key=lambda c: str(c.get("createdDateUtc") or ""))
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
    with platform_access(CALLBACK_TASK):
        _one_school_per_organisation(pending.school_id, organisation["tenant_id"])
        connection = _connected(pending, tokens, organisation)
        db.session.commit()
        log.info("xero_connected", school_id=str(pending.school_id), tenant_id=organisation["tenant_id"])
        return status_of(settings, connection)


def _one_school_per_organisation(school_id: uuid.UUID, tenant_id: str) -> None:
    """An organisation's webhooks and books belong to one school: another school's live connection
    to it is a 409 (the unique index on live tenants makes the race one too)."""
    other = db.session.scalar(
        select(XeroConnection.id).where(
            XeroConnection.tenant_id == tenant_id,
            XeroConnection.school_id != school_id,
            XeroConnection.state != ConnectionState.DISABLED.value,
        )
    )
    if other is not None:
        raise Conflict("This Xero organisation is connected to another school; disconnect it there first.")


def _connected(pending: Pending, tokens: client.TokenSet, organisation: dict[str, str]) -> XeroConnection:
    connection = connection_of(pending.school_id) or XeroConnection(
        school_id=pending.school_id, lock_version=0
    )
    if connection.tenant_id not in (None, organisation["tenant_id"]):
        _forget_organisation(pending.school_id)
    if connection.state == ConnectionState.NEEDS_RECONNECT:
        withdraw_reconnect_alerts(connection)  # before the new episode begins: its keys name the old
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


def _forget_organisation(school_id: uuid.UUID) -> None:
    """Another organisation: the old Xero ids name records that are not in this one, and the jobs
    that sent them (done, dead or discarded) are over; everything is queued again for the new one."""
    db.session.execute(delete(XeroLink).where(XeroLink.school_id == school_id))
    jobs.forget_finished(KINDS, school_id)
    db.session.flush()
    queue_missing(school_id)
