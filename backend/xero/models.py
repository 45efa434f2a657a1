"""A school's Xero connection (its tokens encrypted), the pending authorisations of a connect, and
the map between Homeroom's records and Xero's."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.crypto import EncryptedText
from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"  # Xero refused the refresh token (invalid_grant)
    DISABLED = "disabled"  # disconnected by an admin (or never connected)


class LinkKind(StrEnum):
    CONTACT = "contact"  # local id: the guardian's user id (or the student's, with no guardian)
    INVOICE = "invoice"
    PAYMENT = "payment"


LIVE = "state <> 'disabled'"


class XeroConnection(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """One per school. The tokens are Fernet-encrypted with the key ring (`flask crypto rotate`
    re-encrypts them) and never leave the server; `lock_version` is bumped by each refresh, whose
    first statement locks this row until the new pair is committed."""

    __tablename__ = "xero_connections"
    __table_args__ = (
        UniqueConstraint("school_id"),
        CheckConstraint(enum_check("state", ConnectionState), name="state"),
        # One school per organisation (its webhooks name only the organisation), while in use.
        Index(
            "uq_xero_connections_live_tenant_id",
            "tenant_id",
            unique=True,
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
    )

    state: Mapped[str] = mapped_column(String(16), default=ConnectionState.DISABLED.value)
    tenant_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tenant_name: Mapped[str | None] = mapped_column(String(200), default=None)
    access_token: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    access_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)  # the refresh token's issue
    connected_at: Mapped[datetime | None] = mapped_column(default=None)
    connected_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    last_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    paused_until: Mapped[datetime | None] = mapped_column(default=None)  # Xero's Retry-After
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    # The school's own choices; None: XERO_SALES_ACCOUNT_CODE, XERO_PAYMENT_ACCOUNT_CODE, XERO_TAX_TYPE.
    sales_account_code: Mapped[str | None] = mapped_column(String(10), default=None)
    payment_account_code: Mapped[str | None] = mapped_column(String(10), default=None)
    tax_type: Mapped[str | None] = mapped_column(String(20), default=None)


class XeroAuthorization(UUIDPrimaryKey, TenantOwned, Base):
    """A connect in progress: the `state` sent to Xero (stored as its SHA-256) and the PKCE
    verifier, bound to the admin who started it; used once, within minutes."""

    __tablename__ = "xero_authorizations"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_verifier: Mapped[str] = mapped_column(EncryptedText)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class XeroLink(UUIDPrimaryKey, TenantOwned, Base):
    """A Homeroom record and the Xero record it is (a contact, an invoice, a payment)."""

    __tablename__ = "xero_links"
    __table_args__ = (
        UniqueConstraint("school_id", "kind", "local_id"),
        UniqueConstraint("school_id", "kind", "xero_id"),
        CheckConstraint(enum_check("kind", LinkKind), name="kind"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    local_id: Mapped[uuid.UUID]
    xero_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
