"""Access tokens for a school's Xero connection, refreshed exactly once across workers and instances.

Xero rotates the refresh token on every use (the previous one stays usable for 30 minutes). A
refresh therefore runs under a lock on the connection: its first statement bumps `lock_version`,
which holds the row (PostgreSQL) or the database's write lock (SQLite) until the new pair is
committed; whoever waited on it finds a fresh token and uses it instead of refreshing again. A
process that dies between Xero's answer and the commit leaves the old pair in place: the next
refresh sends the old refresh token, still inside Xero's grace period, and gets a new pair.

`invalid_grant` ends the connection's use: state `needs_reconnect`, one email to the school's
admins (dedup key per connection episode), and jobs wait for a reconnect instead of retrying.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select, update

from backend import audit, mail
from backend.auth import User
from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs import Defer
from backend.schools import School
from backend.tenancy import Role
from backend.xero import client
from backend.xero.models import ConnectionState, XeroConnection

log = structlog.get_logger("homeroom.xero")
RECONNECT_WAIT = 3600.0  # how long a job waits before looking again at a connection needing reconnect


class NotConnected(Exception):
    """The school has no usable connection (never connected, disconnected, or needing reconnect)."""


def connection_of(school_id: uuid.UUID, *, fresh: bool = False) -> XeroConnection | None:
    statement = select(XeroConnection).where(XeroConnection.school_id == school_id)
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    return db.session.scalar(statement)


def _fresh_enough(settings: Settings, connection: XeroConnection) -> bool:
    margin = timedelta(seconds=settings.xero_refresh_margin_seconds)
    return connection.access_expires_at is not None and connection.access_expires_at > utcnow() + margin


def usable(settings: Settings, school_id: uuid.UUID) -> XeroConnection:
    """The school's connection with an access token good for the next few minutes (refreshed here
    if needed); `Defer` while it waits for a reconnect or for Xero's Retry-After."""
    connection = connection_of(school_id, fresh=True)
    if connection is None or connection.state == ConnectionState.DISABLED:
        raise NotConnected("the school is not connected to Xero")
    if connection.state == ConnectionState.NEEDS_RECONNECT:
        raise Defer(RECONNECT_WAIT, "the Xero connection needs to be reconnected by an admin")
    if connection.paused_until is not None and connection.paused_until > utcnow():
        raise Defer((connection.paused_until - utcnow()).total_seconds(), "waiting for Xero's Retry-After")
    if _fresh_enough(settings, connection):
        return connection
    return refresh(settings, school_id)


def locked_connection(school_id: uuid.UUID) -> XeroConnection | None:
    """The school's connection, read fresh in a new transaction whose first statement locks it (the
    row on PostgreSQL, the database's write lock on SQLite) until that transaction ends."""
    db.session.commit()
    db.session.execute(
        update(XeroConnection)
        .where(XeroConnection.school_id == school_id)
        .values(lock_version=XeroConnection.lock_version + 1)
    )
    return connection_of(school_id, fresh=True)


def refresh(settings: Settings, school_id: uuid.UUID, *, idle_only: bool = False) -> XeroConnection:
    """Refresh the school's tokens under the connection's lock, unless someone else did while we
    waited for it (or, with `idle_only`, unless the refresh token was used recently). The new pair
    is committed before it is returned."""
    connection = locked_connection(school_id)
    if (
        connection is None
        or connection.state != ConnectionState.CONNECTED
        or connection.refresh_token is None
    ):
        db.session.commit()
        raise NotConnected("the school is not connected to Xero")
    if _already_refreshed(settings, connection, idle_only=idle_only):
        db.session.commit()
        return connection
    try:
        tokens = client.refresh(settings, connection.refresh_token)
    except client.InvalidGrant as error:
        needs_reconnect(settings, connection, str(error))
        db.session.commit()
        raise NotConnected(str(error)) from None
    except client.XeroError:
        db.session.rollback()  # the stored pair stays; the lock is released
        raise
    _store(connection, tokens)
    db.session.commit()
    log.info("xero_token_refreshed", school_id=str(school_id), expires_at=tokens.expires_at.isoformat())
    return connection


def _already_refreshed(settings: Settings, connection: XeroConnection, *, idle_only: bool) -> bool:
    if idle_only:
        idle = timedelta(days=settings.xero_refresh_idle_days)
        return connection.refreshed_at is not None and connection.refreshed_at > utcnow() - idle
    return _fresh_enough(settings, connection)


def _store(connection: XeroConnection, tokens: client.TokenSet) -> None:
    connection.access_token, connection.refresh_token = tokens.access_token, tokens.refresh_token
    connection.access_expires_at, connection.refreshed_at = tokens.expires_at, utcnow()


def _alert_key(connection: XeroConnection, admin_id: uuid.UUID) -> str:
    """One reconnect email per admin per connection episode (from one connect to the next)."""
    episode = connection.connected_at.isoformat() if connection.connected_at else "never"
    return f"xero-reconnect:{connection.id}:{episode}:{admin_id}"


def withdraw_reconnect_alerts(connection: XeroConnection) -> int:
    """The school reconnected: reconnect emails not sent yet are withdrawn; how many."""
    admins = db.session.scalars(
        select(User.id).where(User.school_id == connection.school_id, User.role == Role.ADMIN.value)
    ).all()
    return mail.cancel(_alert_key(connection, admin_id) for admin_id in admins)


def needs_reconnect(settings: Settings, connection: XeroConnection, reason: str) -> None:
    """Xero refused the grant: stop using the connection and tell the school's admins, once."""
    connection.state = ConnectionState.NEEDS_RECONNECT.value
    connection.last_error = reason[:300]
    connection.access_token = connection.access_expires_at = None
    school = db.session.get(School, connection.school_id)
    admins = db.session.scalars(
        select(User).where(
            User.school_id == connection.school_id, User.role == Role.ADMIN.value, User.is_active.is_(True)
        )
    ).all()
    mail.queue_emails(
        settings,
        mail.MailKind.INTEGRATION_ALERT,
        connection.school_id,
        [
            mail.Letter(
                dedup_key=_alert_key(connection, admin.id),
                to=mail.Recipient(admin.email, admin.id),
                context={
                    "school": school.name if school else "",
                    "name": admin.full_name,
                    "integration": "Xero",
                    "reason": "Xero no longer accepts Homeroom's access to your organisation.",
                    "action_url": f"{settings.app_base_url}/settings/integrations",
                },
            )
            for admin in admins
        ],
    )
    audit.record(
        None,
        "xero.needs_reconnect",
        resource=connection,
        resource_type="xero_connection",
        school_id=connection.school_id,
        changes={"state": ConnectionState.NEEDS_RECONNECT.value},
    )
    log.warning("xero_needs_reconnect", school_id=str(connection.school_id), admins_told=len(admins))
