"""The jobs table: background work of every kind (an accounting sync, a scheduled task), written
in the transaction of the change that causes it and run afterwards by the outbox runner."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, Timestamps, UUIDPrimaryKey, enum_check


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting for `next_attempt_at`
    RUNNING = "running"  # claimed by a runner until `claimed_until`
    DONE = "done"
    DEAD = "dead"  # JOBS_MAX_ATTEMPTS failures, or a failure no retry can fix: for an operator
    DISCARDED = "discarded"  # an operator gave up on a dead job


class Job(UUIDPrimaryKey, Timestamps, Base):
    """One piece of work of one `kind`, with the payload its handler needs. `dedup_key` names the
    event, so the same event never queues a second job."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(enum_check("status", JobStatus), name="status"),
        Index("ix_jobs_status_next_attempt_at", "status", "next_attempt_at"),
    )

    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(48))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
