"""Which students a caller may see: the one object-level rule every student query applies.

Admins see every student of their school, teachers the students enrolled in a class they teach,
parents the students they are linked to. Anything else is "not found".
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select, true

from backend.auth.access import AuthContext
from backend.auth.permissions import Role
from backend.classes.models import Enrollment, SchoolClass
from backend.core.errors import NotFound
from backend.extensions import db
from backend.students.models import GuardianLink, Student


def visible_students(auth: AuthContext) -> ColumnElement[bool]:
    """A condition on `Student.id` (used with `auth.scoped(Student)`, which adds the school)."""
    if auth.role == Role.ADMIN:
        return true()
    if auth.role == Role.TEACHER:
        return Student.id.in_(
            select(Enrollment.student_id)
            .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
            .where(SchoolClass.teacher_id == auth.user_id, auth.owns(SchoolClass))
        )
    return Student.id.in_(
        select(GuardianLink.student_id).where(GuardianLink.user_id == auth.user_id, auth.owns(GuardianLink))
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
