"""Terms, classes, and which students are enrolled in which class."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey


class Term(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "terms"
    __table_args__ = (
        UniqueConstraint("school_id", "name"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        Index("ix_terms_school_id_starts_on", "school_id", "starts_on"),
    )

    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date]
    ends_on: Mapped[date]


class SchoolClass(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "classes"
    __table_args__ = (
        UniqueConstraint("school_id", "term_id", "name"),
        CheckConstraint("grade_level BETWEEN 0 AND 20", name="grade_level"),
        Index("ix_classes_school_id_term_id_name", "school_id", "term_id", "name"),
        Index("ix_classes_school_id_teacher_id", "school_id", "teacher_id"),
    )

    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))
    grade_level: Mapped[int] = mapped_column(SmallInteger)
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"))
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Enrollment(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("class_id", "student_id"),
        Index("ix_enrollments_school_id_student_id", "school_id", "student_id"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
