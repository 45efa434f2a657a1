"""Users, login sessions and their refresh tokens (the school itself is `backend.schools`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.models import Base, Timestamps, UUIDPrimaryKey, enum_check
from backend.schools import School
from backend.tenancy import Role


class User(UUIDPrimaryKey, Timestamps, Base):
    """A person who signs in. `email` is stored normalised (trimmed, lower-case) and unique.

    School users belong to one school; operators (role `operator`) to none."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(enum_check("role", Role), name="role"),
        CheckConstraint("(role = 'operator') = (school_id IS NULL)", name="operator_has_no_school"),
        Index("ix_users_school_id_email", "school_id", "email"),
    )

    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)

    school: Mapped[School | None] = relationship(lazy="raise")


class AuthSession(UUIDPrimaryKey, Timestamps, Base):
    """One sign-in on one device: the family every rotated refresh token of it belongs to."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    last_used_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(45), default=None)


class RefreshToken(UUIDPrimaryKey, Base):
    """A refresh token, stored only as its SHA-256; `used_at` is set when it is rotated away.

    `successor_sealed` is the token that replaced it, encrypted under a key derived from this
    token (`tokens.seal_successor`), so that the same token presented again within
    REFRESH_REUSE_SECONDS gets the same new one; only a session's newest rotation keeps it."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    successor_sealed: Mapped[str | None] = mapped_column(Text, default=None)


class Invitation(UUIDPrimaryKey, Timestamps, Base):
    """A single-use link that lets an invited user set their first password; stored as its SHA-256.

    At most one pending invitation per user: a resend revokes the old one."""

    __tablename__ = "invitations"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PasswordResetRequest(UUIDPrimaryKey, Base):
    """A reset asked for by address: written the same way whether or not the account exists, and
    turned into a token and an email (or nothing) by the mail sender, off the request path."""

    __tablename__ = "password_reset_requests"
    __table_args__ = (Index("ix_password_reset_requests_processed_at", "processed_at", "requested_at"),)

    email: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime]
    client_ip: Mapped[str | None] = mapped_column(String(45), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordResetToken(UUIDPrimaryKey, Base):
    """A single-use password reset token, stored as its SHA-256."""

    __tablename__ = "password_reset_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("password_reset_requests.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
