"""The doctor's records: each scan, each fix (who, what, the SQL, the result), and the switch
that stops all fixing on every instance at once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, UUIDPrimaryKey


class DoctorScan(UUIDPrimaryKey, Base):
    __tablename__ = "doctor_scans"
    __table_args__ = (Index("ix_doctor_scans_started_at", "started_at"),)

    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    trigger: Mapped[str] = mapped_column(String(16))  # cli, watch, api
    status: Mapped[str] = mapped_column(String(16))  # clean, issues, failed
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    draft: Mapped[str | None] = mapped_column(String(255))  # file name in DB_DOCTOR_DRAFTS_DIR
    error: Mapped[str | None] = mapped_column(Text)


class DoctorFix(UUIDPrimaryKey, Base):
    __tablename__ = "doctor_fixes"
    __table_args__ = (Index("ix_doctor_fixes_issue_id_finished_at", "issue_id", "finished_at"),)

    issue_id: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]  # the operator, or none for a command or the watcher
    statements: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # ok, failed
    error: Mapped[str | None] = mapped_column(Text)
    backup_file: Mapped[str | None] = mapped_column(String(255))
    resolved: Mapped[bool] = mapped_column(default=False)  # gone from the scan after the fix
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class DoctorSwitch(Base):
    """One row: whether the doctor may fix anything. Read before every fix, on every instance."""

    __tablename__ = "doctor_switch"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fixes_enabled: Mapped[bool]
    changed_at: Mapped[datetime]
    changed_by: Mapped[uuid.UUID | None]
