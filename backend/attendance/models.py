"""Attendance: one record per student, class (or none: the day as a whole) and date."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    LATE = "late"
    EXCUSED = "excused"
    LEFT_EARLY = "left_early"


_HAS_CLASS, _DAILY = text("class_id IS NOT NULL"), text("class_id IS NULL")
ATTENDED = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY})


class AttendanceRecord(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "attendance_records"
    __table_args__ = (
        CheckConstraint(enum_check("status", AttendanceStatus), name="status"),
        # Unique per student/class/date; daily records (no class) are unique per student/date.
        Index(
            "uq_attendance_records_student_class_date",
            "student_id",
            "class_id",
            "on_date",
            unique=True,
            postgresql_where=_HAS_CLASS,
            sqlite_where=_HAS_CLASS,
        ),
        Index(
            "uq_attendance_records_student_daily",
            "student_id",
            "on_date",
            unique=True,
            postgresql_where=_DAILY,
            sqlite_where=_DAILY,
        ),
        Index("ix_attendance_records_school_id_student_id_on_date", "school_id", "student_id", "on_date"),
        Index("ix_attendance_records_school_id_class_id_on_date", "school_id", "class_id", "on_date"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"))
    on_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
