"""Assessments of a class and each student's grade in them."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class GradeStatus(StrEnum):
    GRADED = "graded"
    MISSING = "missing"
    EXEMPT = "exempt"


class Assessment(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint("max_score > 0", name="max_score"),
        CheckConstraint("weight > 0", name="weight"),
        Index("ix_assessments_school_id_class_id_due_on", "school_id", "class_id", "due_on"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    max_score: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(1))
    due_on: Mapped[date | None] = mapped_column(default=None)
    published: Mapped[bool] = mapped_column(default=False)


class Grade(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "grades"
    __table_args__ = (
        UniqueConstraint("assessment_id", "student_id"),
        CheckConstraint(enum_check("status", GradeStatus), name="status"),
        CheckConstraint("(status = 'graded') = (score IS NOT NULL)", name="score_when_graded"),
        Index("ix_grades_school_id_student_id", "school_id", "student_id"),
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2), default=None)
    status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(String(1000), default=None)
    graded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
