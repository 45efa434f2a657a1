"""Students and their guardians: lists, changes, withdrawal (never deletion)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Row, exists, or_, select

from backend import audit
from backend.auth import ChildOut, User
from backend.core.db import commit_unique
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.core.pagination import Page, keyset, page_of
from backend.students.access import roster, visible_student, visible_students
from backend.students.models import GuardianLink, Student, StudentStatus
from backend.students.schemas import (
    GuardianLinkIn,
    GuardianOut,
    StudentIn,
    StudentListQuery,
    StudentOut,
    StudentUpdateIn,
)
from backend.tenancy import AuthContext, Role

STUDENT_FIELDS = (
    "admission_number",
    "first_name",
    "last_name",
    "date_of_birth",
    "grade_level",
    "status",
    "enrolled_on",
    "left_on",
)
LIST_ORDER = (Student.last_name, Student.first_name, Student.id)


def list_students(auth: AuthContext, query: StudentListQuery) -> Page[Row[Any]]:
    statement = auth.scoped_columns(Student, StudentOut).where(visible_students(auth))
    if query.status is not None:
        statement = statement.where(Student.status == query.status.value)
    if query.grade_level is not None:
        statement = statement.where(Student.grade_level == query.grade_level)
    if query.class_id is not None:
        statement = statement.where(Student.id.in_(roster().enrolled_in(auth, query.class_id)))
    if query.q:
        pattern = f"%{query.q}%"
        statement = statement.where(
            or_(
                Student.first_name.ilike(pattern),
                Student.last_name.ilike(pattern),
                Student.admission_number.ilike(pattern),
            )
        )
    rows = db.session.execute(keyset(statement, LIST_ORDER, query)).all()
    return page_of(rows, query, lambda s: [s.last_name, s.first_name, s.id])


def _check_dates(enrolled_on: date, left_on: date | None, date_of_birth: date) -> None:
    if enrolled_on < date_of_birth:
        raise ValidationFailed.on("body.enrolled_on", "Cannot be before the date of birth.")
    if left_on is not None and left_on < enrolled_on:
        raise ValidationFailed.on("body.left_on", "Cannot be before enrolled_on.")


def create_student(auth: AuthContext, data: StudentIn) -> Student:
    enrolled_on = data.enrolled_on or auth.today()
    _check_dates(enrolled_on, None, data.date_of_birth)
    student = Student(
        school_id=auth.school_id,
        admission_number=data.admission_number,
        first_name=data.first_name,
        last_name=data.last_name,
        date_of_birth=data.date_of_birth,
        grade_level=data.grade_level,
        enrolled_on=enrolled_on,
        status=StudentStatus.ACTIVE.value,
    )
    db.session.add(student)
    audit.record(
        auth,
        "student.create",
        resource=student,
        resource_type="student",
        changes=audit.snapshot(student, STUDENT_FIELDS),
    )
    commit_unique(f"Admission number {data.admission_number!r} is already in use.")
    return student


def _match_status_and_left_on(auth: AuthContext, student: Student, *, left_on_given: bool) -> None:
    """An active student has no leaving date; a withdrawn or graduated one has one (today, unless
    given). A change that would break that is refused."""
    if student.status == StudentStatus.ACTIVE:
        if student.left_on is not None and left_on_given:
            raise ValidationFailed.on(
                "body.left_on", "An active student has no leaving date; change status too."
            )
        student.left_on = None
    elif student.left_on is None:
        if left_on_given:
            raise ValidationFailed.on("body.left_on", f"A {student.status} student needs a leaving date.")
        student.left_on = max(auth.today(), student.enrolled_on)


def update_student(auth: AuthContext, student_id: uuid.UUID, data: StudentUpdateIn) -> Student:
    student = visible_student(auth, student_id)
    before = audit.snapshot(student, STUDENT_FIELDS)
    for name in data.model_fields_set:
        value = getattr(data, name)
        setattr(student, name, value.value if isinstance(value, StudentStatus) else value)
    _match_status_and_left_on(auth, student, left_on_given="left_on" in data.model_fields_set)
    _check_dates(student.enrolled_on, student.left_on, student.date_of_birth)
    if changes := audit.diff(before, audit.snapshot(student, STUDENT_FIELDS)):
        audit.record(auth, "student.update", resource=student, resource_type="student", changes=changes)
    db.session.commit()
    return student


def withdraw_student(auth: AuthContext, student_id: uuid.UUID) -> Student:
    """The "delete" of a student: withdrawn from today, with every record kept."""
    student = visible_student(auth, student_id)
    if student.status != StudentStatus.WITHDRAWN:
        before = audit.snapshot(student, STUDENT_FIELDS)
        student.status = StudentStatus.WITHDRAWN.value
        student.left_on = max(auth.today(), student.enrolled_on)
        audit.record(
            auth,
            "student.withdraw",
            resource=student,
            resource_type="student",
            changes=audit.diff(before, audit.snapshot(student, STUDENT_FIELDS)),
        )
        db.session.commit()
    return student


# --- guardians ----------------------------------------------------------------------------------

LINK_FIELDS = (
    "id",
    "student_id",
    "user_id",
    "relationship",
    "is_primary",
    "can_view_finance",
    "can_view_health",
    "can_view_grades",
)


def _guardian(link: GuardianLink, full_name: str, email: str) -> GuardianOut:
    """A guardian link with the parent's name and email."""
    return GuardianOut(
        id=link.id,
        student_id=link.student_id,
        user_id=link.user_id,
        full_name=full_name,
        email=email,
        relationship=link.relationship,
        is_primary=link.is_primary,
        can_view_finance=link.can_view_finance,
        can_view_health=link.can_view_health,
        can_view_grades=link.can_view_grades,
    )


def list_guardians(auth: AuthContext, student_id: uuid.UUID) -> list[GuardianOut]:
    visible_student(auth, student_id)
    rows = db.session.execute(
        select(GuardianLink, User.full_name, User.email)
        .join(User, User.id == GuardianLink.user_id)
        .where(auth.owns(GuardianLink), GuardianLink.student_id == student_id)
        .order_by(GuardianLink.is_primary.desc(), User.full_name)
    ).all()
    return [_guardian(link, full_name, email) for link, full_name, email in rows]


def link_guardian(auth: AuthContext, student_id: uuid.UUID, data: GuardianLinkIn) -> GuardianOut:
    visible_student(auth, student_id)
    parent = db.session.scalar(
        auth.scoped(User).where(
            User.id == data.user_id, User.role == Role.PARENT.value, User.is_active.is_(True)
        )
    )
    if parent is None:
        raise ValidationFailed.on("body.user_id", "No active parent account with this id in the school.")
    linked = exists().where(GuardianLink.student_id == student_id, GuardianLink.user_id == data.user_id)
    if db.session.scalar(select(linked)):
        raise Conflict("This parent is already linked to the student.")
    link = GuardianLink(school_id=auth.school_id, student_id=student_id, **data.model_dump())
    db.session.add(link)
    audit.record(
        auth,
        "guardian.link",
        resource=link,
        resource_type="guardian_link",
        changes=audit.snapshot(link, LINK_FIELDS[1:]),
    )
    commit_unique("This parent is already linked to the student.")
    return _guardian(link, parent.full_name, parent.email)


def unlink_guardian(auth: AuthContext, student_id: uuid.UUID, link_id: uuid.UUID) -> None:
    visible_student(auth, student_id)
    link = db.session.scalar(
        auth.scoped(GuardianLink).where(GuardianLink.id == link_id, GuardianLink.student_id == student_id)
    )
    if link is None:
        raise NotFound("Guardian link not found.")
    audit.record(
        auth,
        "guardian.unlink",
        resource=link,
        resource_type="guardian_link",
        changes=audit.snapshot(link, LINK_FIELDS[1:]),
    )
    db.session.delete(link)
    db.session.commit()


def linked_children(auth: AuthContext) -> list[ChildOut]:
    """A parent's children, with what each link lets them see (for the parent's profile)."""
    rows = db.session.execute(
        select(
            Student.id,
            Student.first_name,
            Student.last_name,
            Student.grade_level,
            Student.status,
            GuardianLink.relationship,
            GuardianLink.is_primary,
            GuardianLink.can_view_finance,
            GuardianLink.can_view_health,
            GuardianLink.can_view_grades,
        )
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .where(auth.owns(GuardianLink), GuardianLink.user_id == auth.user_id)
        .order_by(Student.last_name, Student.first_name, Student.id)
    )
    return [ChildOut.model_validate(row) for row in rows]
