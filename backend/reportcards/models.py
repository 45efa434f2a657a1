"""Grade scales, report comments and published report cards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey

_DEFAULT, _HAS_CLASS, _OVERALL = text("is_default"), text("class_id IS NOT NULL"), text("class_id IS NULL")


class GradeScale(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """Percentage bands to labels: `bands` is [{"min": 90, "label": "A*"}, ...], highest first, the
    last starting at 0. The average is rounded half up to `decimals` places, then banded. Once a
    published report used it, `locked_at` is set and its bands and rounding no longer change."""

    __tablename__ = "grade_scales"
    __table_args__ = (
        UniqueConstraint("school_id", "name"),
        CheckConstraint("decimals BETWEEN 0 AND 2", name="decimals"),
        Index(
            "uq_grade_scales_default",
            "school_id",
            unique=True,
            postgresql_where=_DEFAULT,
            sqlite_where=_DEFAULT,
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decimals: Mapped[int] = mapped_column(SmallInteger, default=1)
    is_default: Mapped[bool] = mapped_column(default=False)
    locked_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


class ClassGradeScale(UUIDPrimaryKey, TenantOwned, Base):
    """A class's own scale, instead of the school's default."""

    __tablename__ = "class_grade_scales"

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), unique=True)
    scale_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grade_scales.id", ondelete="RESTRICT"), index=True
    )


class ReportComment(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """A teacher's comment on a student in a class for the class's term, or (no class) the overall
    comment an admin writes for the student's term."""

    __tablename__ = "report_comments"
    __table_args__ = (
        Index(
            "uq_report_comments_class_student",
            "class_id",
            "student_id",
            unique=True,
            postgresql_where=_HAS_CLASS,
            sqlite_where=_HAS_CLASS,
        ),
        Index(
            "uq_report_comments_term_student_overall",
            "term_id",
            "student_id",
            unique=True,
            postgresql_where=_OVERALL,
            sqlite_where=_OVERALL,
        ),
        Index("ix_report_comments_school_id_term_id", "school_id", "term_id"),
    )

    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(1000))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class ReportCard(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """One published version of a student's term report: a frozen snapshot (`content` is a
    `snapshot.ReportContent`), never updated; republishing adds the next version."""

    __tablename__ = "report_cards"
    __table_args__ = (
        UniqueConstraint("term_id", "student_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_report_cards_school_id_term_id_student_id", "school_id", "term_id", "student_id"),
        Index("ix_report_cards_school_id_student_id", "school_id", "student_id"),
    )

    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    version: Mapped[int]
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
