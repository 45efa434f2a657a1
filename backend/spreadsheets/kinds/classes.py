"""Classes from CSV, matched by their term and name (a class's "code"): the term must exist in the
school, and a teacher named by email must be one of its active teachers."""

from __future__ import annotations

import uuid

from pydantic import EmailStr
from sqlalchemy import select

from backend.auth import User
from backend.classes import SchoolClass, Term
from backend.core.csvfile import CellError
from backend.core.extensions import db
from backend.spreadsheets.kinds.common import (
    Kind,
    Rows,
    Text,
    classes_in,
    grade_level_problem,
    is_grade_level,
    terms_named,
)
from backend.spreadsheets.plans import Plan, RowModel, apply_plan, parse, step_for, unique_keys
from backend.tenancy import AuthContext, Role


class ClassRow(RowModel):
    term: Text
    name: Text
    subject: Text
    grade_level: int
    teacher_email: EmailStr | None = None


def _active_teachers(auth: AuthContext, emails: set[str]) -> dict[str, uuid.UUID]:
    """The school's active teachers with these emails: email -> user id."""
    statement = select(User.email, User.id).where(
        auth.owns(User),
        User.email.in_(emails),
        User.role == Role.TEACHER.value,
        User.is_active.is_(True),
    )
    return dict(db.session.execute(statement).all())


def _class_problems(
    number: int, record: ClassRow, term: Term | None, teacher: uuid.UUID | None
) -> list[CellError]:
    problems = []
    if term is None:
        problems.append(CellError(number, "term", f"No term named {record.term!r} in the school."))
    if record.teacher_email and teacher is None:
        problems.append(
            CellError(number, "teacher_email", "No active teacher with this email in the school.")
        )
    if not is_grade_level(record.grade_level):
        problems.append(CellError(number, "grade_level", grade_level_problem(record.grade_level)))
    return problems


def plan_classes(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(parse(ClassRow, rows, plan.errors), lambda r: (r.term, r.name), "name", plan.errors)
    terms = terms_named(auth, {r.term for _n, r in parsed})
    teachers = _active_teachers(auth, {str(r.teacher_email).lower() for _n, r in parsed if r.teacher_email})
    existing = classes_in(auth, terms)
    for number, record in parsed:
        term = terms.get(record.term)
        teacher = teachers.get(str(record.teacher_email).lower()) if record.teacher_email else None
        problems = _class_problems(number, record, term, teacher)
        plan.errors += problems
        if term is None or problems:
            continue
        values = {
            "name": record.name,
            "subject": record.subject,
            "grade_level": record.grade_level,
            "teacher_id": teacher,
            "term_id": term.id,
        }
        plan.steps.append(step_for(number, values, existing.get((term.id, record.name)), values))
    return plan


def apply_classes(auth: AuthContext, plan: Plan, _invite: bool) -> None:
    apply_plan(auth, plan, SchoolClass, "class")


CLASSES = Kind(
    "classes",
    tuple(ClassRow.model_fields),
    ("term", "name", "subject", "grade_level"),
    plan_classes,
    apply_classes,
)
