"""The audit trail: append-only events, hash-chained per school."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, UUIDPrimaryKey

# Events with no school (a failed sign-in for an unknown email) form a chain of their own.
PLATFORM_CHAIN = uuid.UUID(int=0)


class AuditEvent(UUIDPrimaryKey, Base):
    """One event. Database triggers refuse every UPDATE and early DELETEs (see the migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "seq"),
        Index("ix_audit_events_school_id_occurred_at", "school_id", "occurred_at", "id"),
        Index("ix_audit_events_school_id_actor_id_occurred_at", "school_id", "actor_id", "occurred_at"),
        Index("ix_audit_events_school_id_action_occurred_at", "school_id", "action", "occurred_at"),
        Index(
            "ix_audit_events_school_id_resource", "school_id", "resource_type", "resource_id", "occurred_at"
        ),
    )

    chain_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    # No foreign keys: the trail outlives what it describes and must not block anything.
    school_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The end of each chain: its length and last hash, locked while an event is appended."""

    __tablename__ = "audit_chain_heads"

    chain_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    # The last event a purge deleted: the chain's events are purged_through + 1 .. seq, all present.
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AuditPolicy(Base):
    """One row: how long events are kept. The triggers read it; it can never go under 90 days."""

    __tablename__ = "audit_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("retention_days >= 90", name="retention_minimum"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer)
