"""Enrolling many students at once, and moving a class's students on to next year's class.

Both are all or nothing (any student that cannot be enrolled refuses the whole call, naming it)
and idempotent (students already in the class are counted, not enrolled again)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from backend import audit
from backend.classes.models import Enrollment
from backend.classes.schemas import BulkEnrollmentOut
from backend.classes.service import visible_class
from backend.core.db import commit_unique
from backend.core.errors import ValidationFailed
from backend.core.extensions import db
from backend.students import Student, StudentStatus
from backend.tenancy import AuthContext


def _enroll(
    auth: AuthContext, class_id: uuid.UUID, student_ids: list[uuid.UUID], field: str
) -> BulkEnrollmentOut:
    wanted = list(dict.fromkeys(student_ids))
    active = set(
        db.session.scalars(
            select(Student.id).where(
                auth.owns(Student), Student.id.in_(wanted), Student.status == StudentStatus.ACTIVE.value
            )
        )
    )
    refused = [
        {
            "field": f"{field}.{i}",
            "message": "No active student with this id in the school.",
            "type": "not_active",
        }
        for i, student_id in enumerate(student_ids)
        if student_id not in active
    ]
    if refused:
        raise ValidationFailed(refused)
    present = set(
        db.session.scalars(
            select(Enrollment.student_id).where(
                Enrollment.class_id == class_id, Enrollment.student_id.in_(wanted)
            )
        )
    )
    added = [student_id for student_id in wanted if student_id not in present]
    for student_id in added:
        db.session.add(Enrollment(school_id=auth.school_id, class_id=class_id, student_id=student_id))
    if added:
        audit.record(
            auth,
            "enrollment.bulk_create",
            resource_type="class",
            resource_id=class_id,
            changes={"students": [str(s) for s in added]},
        )
    commit_unique("Someone enrolled one of these students at the same moment; try again.")
    return BulkEnrollmentOut(class_id=class_id, enrolled=added, already=[s for s in wanted if s in present])


def enroll_many(auth: AuthContext, class_id: uuid.UUID, student_ids: list[uuid.UUID]) -> BulkEnrollmentOut:
    visible_class(auth, class_id)
    return _enroll(auth, class_id, student_ids, "body.student_ids")


def promote(auth: AuthContext, class_id: uuid.UUID, to_class_id: uuid.UUID) -> BulkEnrollmentOut:
    """Enroll the class's active students in `to_class_id` (their old enrollment stays, as history)."""
    visible_class(auth, class_id)
    visible_class(auth, to_class_id)
    if class_id == to_class_id:
        raise ValidationFailed.on("body.to_class_id", "Choose a different class.")
    students = list(
        db.session.scalars(
            select(Enrollment.student_id)
            .join(Student, Student.id == Enrollment.student_id)
            .where(Enrollment.class_id == class_id, Student.status == StudentStatus.ACTIVE.value)
            .order_by(Enrollment.student_id)
        )
    )
    return _enroll(auth, to_class_id, students, "body.to_class_id")
