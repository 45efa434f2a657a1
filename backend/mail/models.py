"""The outbox (mail waiting to be delivered, written with the change that causes it) and each
user's choice of which notifications they receive."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.crypto import EncryptedText
from backend.core.models import Base, Timestamps, UUIDPrimaryKey, enum_check


class MailKind(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of email
    ABSENCE_ALERT = "absence_alert"
    FEE_REMINDER = "fee_reminder"
    INTEGRATION_ALERT = "integration_alert"  # to a school's admins: an integration needs them
    REPORT_CARD = "report_card"  # to guardians: a term's report card was published
    URGENT_ANNOUNCEMENT = "urgent_announcement"  # to an urgent announcement's audience
    ANNOUNCEMENT = "announcement"  # to those of its audience who asked for every announcement


# The kinds a user may turn off; invitations and resets are answers to something asked for.
OPTIONAL_KINDS = (
    MailKind.ABSENCE_ALERT,
    MailKind.FEE_REMINDER,
    MailKind.REPORT_CARD,
    MailKind.URGENT_ANNOUNCEMENT,
    MailKind.ANNOUNCEMENT,
)
# Optional kinds a user receives only once they turn them on; the others are on until turned off.
OFF_BY_DEFAULT = frozenset({MailKind.ANNOUNCEMENT})


class MailStatus(StrEnum):
    QUEUED = "queued"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender until `claimed_until`
    SENT = "sent"
    DEAD = "dead"  # OUTBOX_MAX_ATTEMPTS failures: kept for an operator to look at
    CANCELLED = "cancelled"  # the reason for it went away before it was sent


class OutboxMessage(UUIDPrimaryKey, Timestamps, Base):
    """One email to one recipient. `dedup_key` names the recipient and the event, so the same
    event never queues (or sends) a second message to the same person. Bodies are encrypted (a
    reset link is a credential) and emptied once sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(enum_check("kind", MailKind), name="kind"),
        CheckConstraint(enum_check("status", MailStatus), name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(EncryptedText)
    html_body: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class NotificationPreference(UUIDPrimaryKey, Base):
    """A user's choice for one optional kind; no row means the default (on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        UniqueConstraint("user_id", "kind"),
        CheckConstraint(enum_check("kind", MailKind), name="kind"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool]
    updated_at: Mapped[datetime]
