"""Students and the parents (guardians) linked to them."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class StudentStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    GRADUATED = "graduated"


class Student(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("school_id", "admission_number"),
        CheckConstraint(enum_check("status", StudentStatus), name="status"),
        CheckConstraint("grade_level BETWEEN 0 AND 20", name="grade_level"),
        # The list's order (keyset) and its filters.
        Index("ix_students_school_id_names", "school_id", "last_name", "first_name", "id"),
        Index("ix_students_school_id_status_grade_level", "school_id", "status", "grade_level"),
    )

    admission_number: Mapped[str] = mapped_column(String(32))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    grade_level: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), default=StudentStatus.ACTIVE.value)
    enrolled_on: Mapped[date]
    left_on: Mapped[date | None] = mapped_column(default=None)


class GuardianLink(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """A parent account's link to a student, with what that parent may see."""

    __tablename__ = "guardian_links"
    __table_args__ = (
        UniqueConstraint("student_id", "user_id"),
        Index("ix_guardian_links_school_id_user_id", "school_id", "user_id"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    relationship: Mapped[str] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(default=False)
    can_view_finance: Mapped[bool] = mapped_column(default=False)
    can_view_health: Mapped[bool] = mapped_column(default=False)
    can_view_grades: Mapped[bool] = mapped_column(default=True, server_default=true())
