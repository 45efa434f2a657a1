"""Which students a caller may see: the one object-level rule every student query applies.

Admins see every student of their school, teachers the students enrolled in a class they teach,
parents the students they are linked to. Anything else is "not found".
"""

from __future__ import annotations

import uuid
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy import ColumnElement, Select, select, true

from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.students.models import GuardianLink, Student
from backend.tenancy import AuthContext, Role

_ROSTER = "homeroom.students_roster"


class Roster(Protocol):
    """What the student rules need to know of classes. `backend.classes` builds on students, so
    it provides this at start-up (`use_roster`) instead of students importing it."""

    def taught_by(self, auth: AuthContext) -> Select[uuid.UUID]:
        """The ids of students enrolled in a class the caller teaches."""
        ...

    def enrolled_in(self, auth: AuthContext, class_id: uuid.UUID) -> Select[uuid.UUID]:
        """The ids of the students enrolled in one of the caller's school's classes."""
        ...


def use_roster(app: Flask, roster: Roster) -> None:
    app.extensions[_ROSTER] = roster


def roster() -> Roster:
    found: Roster | None = current_app.extensions.get(_ROSTER)
    if found is None:
        raise RuntimeError("No class roster: backend.classes.init_app registers it (create_app does).")
    return found


def visible_students(auth: AuthContext) -> ColumnElement[bool]:
    """A condition on `Student.id` (used with `auth.scoped(Student)`, which adds the school)."""
    if auth.role == Role.ADMIN:
        return true()
    if auth.role == Role.TEACHER:
        return Student.id.in_(roster().taught_by(auth))
    return Student.id.in_(
        select(GuardianLink.student_id).where(GuardianLink.user_id == auth.user_id, auth.owns(GuardianLink))
    )


def grades_visible(auth: AuthContext) -> ColumnElement[bool]:
    """`visible_students`, but a parent only where their link includes grades (`can_view_grades`):
    published grades, the term summary and report cards."""
    if auth.role != Role.PARENT:
        return visible_students(auth)
    return Student.id.in_(
        select(GuardianLink.student_id).where(
            GuardianLink.user_id == auth.user_id,
            auth.owns(GuardianLink),
            GuardianLink.can_view_grades.is_(True),
        )
    )


def visible_student(auth: AuthContext, student_id: uuid.UUID) -> Student:
    student = db.session.scalar(auth.scoped(Student).where(Student.id == student_id, visible_students(auth)))
    if student is None:
        raise NotFound("Student not found.")
    return student


def guardian_link(auth: AuthContext, student_id: uuid.UUID) -> GuardianLink | None:
    """The caller's own link to the student (parents), for what the link allows them to see."""
    return db.session.scalar(
        auth.scoped(GuardianLink).where(
            GuardianLink.student_id == student_id, GuardianLink.user_id == auth.user_id
        )
    )
