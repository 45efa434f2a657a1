"""Enrollments from CSV, matched by student and class: the student (by admission number) must be
active and the class must exist in the named term. An enrollment is created or left unchanged;
there is nothing about one to update."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from backend.classes import Enrollment, SchoolClass
from backend.core.csvfile import CellError
from backend.core.extensions import db
from backend.spreadsheets.kinds.common import (
    NO_SUCH_STUDENT,
    AdmissionNumber,
    Kind,
    Rows,
    Text,
    classes_in,
    students_numbered,
    terms_named,
)
from backend.spreadsheets.plans import Plan, RowModel, Step, apply_plan, parse, unique_keys
from backend.students import Student, StudentStatus
from backend.tenancy import AuthContext


class EnrollmentRow(RowModel):
    admission_number: AdmissionNumber
    term: Text
    class_name: Text


def _enrolled(auth: AuthContext, students: dict[str, Student]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """The (student, class) pairs these students are already enrolled in."""
    statement = select(Enrollment.student_id, Enrollment.class_id).where(
        auth.owns(Enrollment), Enrollment.student_id.in_([s.id for s in students.values()])
    )
    return {(student_id, class_id) for student_id, class_id in db.session.execute(statement)}


def _enrollment_problems(
    number: int, record: EnrollmentRow, student: Student | None, school_class: SchoolClass | None
) -> list[CellError]:
    problems = []
    if student is None:
        problems.append(CellError(number, "admission_number", NO_SUCH_STUDENT))
    elif student.status != StudentStatus.ACTIVE:
        problems.append(CellError(number, "admission_number", f"The student is {student.status}."))
    if school_class is None:
        problems.append(
            CellError(number, "class_name", f"No class {record.class_name!r} in term {record.term!r}.")
        )
    return problems


def plan_enrollments(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(EnrollmentRow, rows, plan.errors),
        lambda r: (r.admission_number, r.term, r.class_name),
        "class_name",
        plan.errors,
    )
    students = students_numbered(auth, {r.admission_number for _n, r in parsed})
    terms = terms_named(auth, {r.term for _n, r in parsed})
    classes = classes_in(auth, terms)
    enrolled = _enrolled(auth, students)
    for number, record in parsed:
        student = students.get(record.admission_number)
        term = terms.get(record.term)
        school_class = classes.get((term.id, record.class_name)) if term else None
        problems = _enrollment_problems(number, record, student, school_class)
        plan.errors += problems
        if student is None or school_class is None or problems:
            continue
        values = {"student_id": student.id, "class_id": school_class.id}
        target = values if (student.id, school_class.id) in enrolled else None
        plan.steps.append(Step(number, "unchanged" if target else "create", values, target))
    return plan


def apply_enrollments(auth: AuthContext, plan: Plan, _invite: bool) -> None:
    apply_plan(auth, plan, Enrollment, "enrollment")


ENROLLMENTS = Kind(
    "enrollments",
    tuple(EnrollmentRow.model_fields),
    tuple(EnrollmentRow.model_fields),
    plan_enrollments,
    apply_enrollments,
)
