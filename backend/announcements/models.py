"""Announcements and the people each one was published to (its recipients, with when they read it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class AnnouncementAudience(StrEnum):
    SCHOOL = "school"  # every active user of the school: staff and parents
    STAFF = "staff"  # admins and teachers
    PARENTS = "parents"  # every parent account
    CLASS = "class"  # the guardians of the class's active students
    YEAR = "year"  # the guardians of the year group's active students
    STUDENTS = "students"  # the guardians of chosen students


class AnnouncementStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for `publish_at` (the jobs queue publishes it)
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"  # taken back: out of every feed; the audit keeps what it said


class Announcement(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    """What an author says to an audience: `body` as written (Markdown) and `body_html` as every
    reader gets it (rendered and sanitised once, when written). The audience is resolved into
    recipients when it is published, not before."""

    __tablename__ = "announcements"
    __table_args__ = (
        CheckConstraint(enum_check("audience", AnnouncementAudience), name="audience"),
        CheckConstraint(enum_check("status", AnnouncementStatus), name="status"),
        Index("ix_announcements_school_id_status", "school_id", "status"),
        Index("ix_announcements_author_id", "author_id"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(default=False)
    pinned_until: Mapped[date | None] = mapped_column(default=None)
    audience: Mapped[str] = mapped_column(String(16))
    class_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("classes.id", ondelete="RESTRICT"), default=None, index=True
    )
    grade_level: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    student_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(16), default=AnnouncementStatus.SCHEDULED.value)
    publish_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    recipient_count: Mapped[int] = mapped_column(default=0)

    def targets(self) -> dict[str, Any]:
        """The audience as written (what the audit and the API show)."""
        return {
            "audience": self.audience,
            "class_id": self.class_id,
            "grade_level": self.grade_level,
            "student_ids": self.student_ids,
        }


_UNREAD = text("read_at IS NULL")


class Recipient(TenantOwned, Base):
    """One user an announcement was published to, and when they read it. Written in one statement
    when it is published; deleted with it when it is withdrawn."""

    __tablename__ = "announcement_recipients"
    __table_args__ = (
        # the feed: a user's announcements (joined to their announcement for the order)
        Index("ix_announcement_recipients_user_id", "user_id", "announcement_id"),
        # the unread count: one index-only count over the user's unread rows
        Index(
            "ix_announcement_recipients_unread",
            "user_id",
            "school_id",
            postgresql_where=_UNREAD,
            sqlite_where=_UNREAD,
        ),
    )

    announcement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
