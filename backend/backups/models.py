"""The backup log: one row per run of `flask backup ...` (create, upload, verify, restore, prune)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, UUIDPrimaryKey, enum_check


class RunKind(StrEnum):
    CREATE = "create"
    UPLOAD = "upload"
    VERIFY = "verify"
    RESTORE = "restore"
    PRUNE = "prune"


class RunStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


class BackupRun(UUIDPrimaryKey, Base):
    """One run. Not a school's row: backups are the whole platform's."""

    __tablename__ = "backup_runs"
    __table_args__ = (
        CheckConstraint(enum_check("kind", RunKind), name="kind"),
        CheckConstraint(enum_check("status", RunStatus), name="status"),
        # The health check's question: the newest successful create.
        Index("ix_backup_runs_kind_status_finished_at", "kind", "status", "finished_at"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    file: Mapped[str | None] = mapped_column(String(255))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # What the run found or did: row counts, the revision, files pruned, the target database.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
