"""Read receipts for an announcement's author (and the admins): how many of its audience have
read it, and who has not, optionally for one class's families, with the children it concerns."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from backend.announcements import audiences, authoring
from backend.announcements.models import Announcement, Recipient
from backend.announcements.schemas import NotReadOut, NotReadQuery, ReceiptsOut, ReceiptsQuery
from backend.auth import User
from backend.classes import visible_class
from backend.core.extensions import db
from backend.core.pagination import Page, keyset, page_of
from backend.students import GuardianLink, Student
from backend.tenancy import AuthContext


def _recipients(auth: AuthContext, announcement: Announcement, class_id: uuid.UUID | None) -> list[Any]:
    where = [auth.owns(Recipient), Recipient.announcement_id == announcement.id]
    if class_id is not None:
        visible_class(auth, class_id)  # 404 for a class that is not the caller's
        where.append(Recipient.user_id.in_(audiences.in_class(auth.school_id, class_id)))
    return where


def counts(auth: AuthContext, announcement_id: uuid.UUID, query: ReceiptsQuery) -> ReceiptsOut:
    announcement = authoring.authored(auth, announcement_id)
    total, read = db.session.execute(
        select(func.count(), func.count(Recipient.read_at)).where(
            *_recipients(auth, announcement, query.class_id)
        )
    ).one()
    return ReceiptsOut(
        announcement_id=announcement.id,
        class_id=query.class_id,
        recipients=total,
        read=read,
        not_read=total - read,
    )


def not_read(auth: AuthContext, announcement_id: uuid.UUID, query: NotReadQuery) -> Page[NotReadOut]:
    """Who has not read it yet, by name (keyset-paginated), each with their children in scope."""
    announcement = authoring.authored(auth, announcement_id)
    statement = (
        select(User.id, User.full_name, User.role)
        .join(Recipient, Recipient.user_id == User.id)
        .where(*_recipients(auth, announcement, query.class_id), Recipient.read_at.is_(None))
    )
    rows = db.session.execute(keyset(statement, (User.full_name, User.id), query)).all()
    page = page_of(rows, query, lambda r: [r.full_name, r.id])
    children = _children(auth, announcement, [row.id for row in page.items], query.class_id)
    return Page(
        [
            NotReadOut(user_id=r.id, full_name=r.full_name, role=r.role, children=children[r.id])
            for r in page.items
        ],
        page.next_cursor,
    )


def _children(
    auth: AuthContext, announcement: Announcement, users: list[uuid.UUID], class_id: uuid.UUID | None
) -> dict[uuid.UUID, list[str]]:
    """Each of `users`' children the announcement (or the class asked about) concerns, by name."""
    statement = (
        select(GuardianLink.user_id, Student.first_name, Student.last_name)
        .join(Student, Student.id == GuardianLink.student_id)
        .where(auth.owns(GuardianLink), GuardianLink.user_id.in_(users))
        .order_by(Student.last_name, Student.first_name)
    )
    about = audiences.students_of(announcement)
    if about is not None:
        statement = statement.where(Student.id.in_(about))
    if class_id is not None:
        statement = statement.where(Student.id.in_(audiences.class_students(auth.school_id, class_id)))
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for row in db.session.execute(statement) if users else []:
        found[row.user_id].append(f"{row.first_name} {row.last_name}")
    return found
