"""The four kinds of import: students, classes, enrollments and guardians.

Each matches existing records by a natural key (a student's admission number; a class's term and
name, its "code"; an enrollment's student and class; a guardian's student and email), so
importing the same file again changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, EmailStr, StringConstraints
from sqlalchemy import func, select

from backend import audit
from backend.auth import NO_PASSWORD_YET, User, invite
from backend.classes import Enrollment, SchoolClass, Term
from backend.core.csvfile import CellError
from backend.core.extensions import db
from backend.spreadsheets.plans import (
    Plan,
    RowModel,
    Step,
    apply_plan,
    flag,
    parse,
    step_for,
    unique_keys,
    update_from,
)
from backend.students import GuardianLink, Student, StudentStatus
from backend.tenancy import AuthContext, Role

Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]
AdmissionNumber = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Flag = Annotated[bool, BeforeValidator(flag)]
Rows = list[tuple[int, dict[str, str]]]


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    plan: Callable[[AuthContext, Rows], Plan]
    apply: Callable[[AuthContext, Plan, bool], None]


# --- students ------------------------------------------------------------------------------------


class StudentRow(RowModel):
    admission_number: AdmissionNumber
    first_name: Text
    last_name: Text
    date_of_birth: date
    grade_level: int
    enrolled_on: date | None = None
    status: StudentStatus | None = None
    left_on: date | None = None


STUDENT_COLUMNS = tuple(StudentRow.model_fields)


def _student_values(row: StudentRow, existing: Student | None, today: date) -> dict[str, Any]:
    given = set(row.model_fields_set)
    if row.status is not None:
        given.add("left_on")  # a status comes with its leaving date (none for active)
    values = row.model_dump(include=given)
    values["status"] = str(row.status or (existing.status if existing else StudentStatus.ACTIVE))
    if existing is None:
        values.setdefault("enrolled_on", today)
    return values


def _student_problems(values: dict[str, Any], existing: Student | None, today: date) -> list[tuple[str, str]]:
    merged = {name: getattr(existing, name) for name in STUDENT_COLUMNS} if existing else {}
    merged.update(values)
    problems = []
    if not 0 <= merged["grade_level"] <= 20:
        problems.append(("grade_level", "Must be between 0 and 20."))
    if merged["date_of_birth"] > today:
        problems.append(("date_of_birth", "Cannot be in the future."))
    if merged["enrolled_on"] < merged["date_of_birth"]:
        problems.append(("enrolled_on", "Cannot be before the date of birth."))
    if merged["status"] == StudentStatus.ACTIVE and merged.get("left_on") is not None:
        problems.append(("left_on", "An active student has no leaving date."))
    if merged["status"] != StudentStatus.ACTIVE and merged.get("left_on") is None:
        problems.append(("left_on", f"A {merged['status']} student needs a leaving date."))
    if merged.get("left_on") is not None and merged["left_on"] < merged["enrolled_on"]:
        problems.append(("left_on", "Cannot be before enrolled_on."))
    return problems


def plan_students(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(StudentRow, rows, plan.errors), lambda r: r.admission_number, "admission_number", plan.errors
    )
    existing = _students_numbered(auth, {record.admission_number for _n, record in parsed})
    today = auth.today()
    for number, record in parsed:
        found = existing.get(record.admission_number)
        values = _student_values(record, found, today)
        problems = _student_problems(values, found, today)
        plan.errors += [CellError(number, column, message) for column, message in problems]
        if not problems:
            plan.steps.append(step_for(number, values, found, values))
    return plan


def apply_students(auth: AuthContext, plan: Plan, _invite: bool) -> None:
    apply_plan(auth, plan, Student, "student")


# --- classes ---------------------------------------------------------------------------------------


class ClassRow(RowModel):
    term: Text
    name: Text
    subject: Text
    grade_level: int
    teacher_email: EmailStr | None = None


def _terms(auth: AuthContext, names: set[str]) -> dict[str, Term]:
    return {t.name: t for t in db.session.scalars(auth.scoped(Term).where(Term.name.in_(names)))}


def _classes_in(auth: AuthContext, terms: dict[str, Term]) -> dict[tuple[uuid.UUID, str], SchoolClass]:
    """The terms' classes by their natural key (term, name)."""
    statement = auth.scoped(SchoolClass).where(SchoolClass.term_id.in_([t.id for t in terms.values()]))
    return {(c.term_id, c.name): c for c in db.session.scalars(statement)}


def _students_numbered(auth: AuthContext, numbers: set[str]) -> dict[str, Student]:
    """The school's students with these admission numbers, by number."""
    statement = auth.scoped(Student).where(Student.admission_number.in_(numbers))
    return {s.admission_number: s for s in db.session.scalars(statement)}


def plan_classes(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(parse(ClassRow, rows, plan.errors), lambda r: (r.term, r.name), "name", plan.errors)
    terms = _terms(auth, {r.term for _n, r in parsed})
    emails = {str(r.teacher_email).lower() for _n, r in parsed if r.teacher_email}
    teachers = dict(
        db.session.execute(
            select(User.email, User.id).where(
                auth.owns(User),
                User.email.in_(emails),
                User.role == Role.TEACHER.value,
                User.is_active.is_(True),
            )
        ).all()
    )
    existing = _classes_in(auth, terms)
    for number, record in parsed:
        found_errors = len(plan.errors)
        term = terms.get(record.term)
        teacher = teachers.get(str(record.teacher_email).lower()) if record.teacher_email else None
        if term is None:
            plan.errors.append(CellError(number, "term", f"No term named {record.term!r} in the school."))
        if record.teacher_email and teacher is None:
            plan.errors.append(
                CellError(number, "teacher_email", "No active teacher with this email in the school.")
            )
        if not 0 <= record.grade_level <= 20:
            plan.errors.append(CellError(number, "grade_level", "Must be between 0 and 20."))
        if term is None or len(plan.errors) > found_errors:
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


# --- enrollments -----------------------------------------------------------------------------------


class EnrollmentRow(RowModel):
    admission_number: AdmissionNumber
    term: Text
    class_name: Text


def plan_enrollments(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(EnrollmentRow, rows, plan.errors),
        lambda r: (r.admission_number, r.term, r.class_name),
        "class_name",
        plan.errors,
    )
    students = _students_numbered(auth, {r.admission_number for _n, r in parsed})
    terms = _terms(auth, {r.term for _n, r in parsed})
    classes = _classes_in(auth, terms)
    enrolled = {
        (student_id, class_id)
        for student_id, class_id in db.session.execute(
            select(Enrollment.student_id, Enrollment.class_id).where(
                auth.owns(Enrollment), Enrollment.student_id.in_([s.id for s in students.values()])
            )
        )
    }
    for number, record in parsed:
        found_errors = len(plan.errors)
        student = students.get(record.admission_number)
        term = terms.get(record.term)
        school_class = classes.get((term.id, record.class_name)) if term else None
        if student is None:
            plan.errors.append(
                CellError(number, "admission_number", "No student with this admission number.")
            )
        elif student.status != StudentStatus.ACTIVE:
            plan.errors.append(CellError(number, "admission_number", f"The student is {student.status}."))
        if school_class is None:
            plan.errors.append(
                CellError(number, "class_name", f"No class {record.class_name!r} in term {record.term!r}.")
            )
        if student is None or school_class is None or len(plan.errors) > found_errors:
            continue
        values = {"student_id": student.id, "class_id": school_class.id}
        target = values if (student.id, school_class.id) in enrolled else None
        plan.steps.append(Step(number, "unchanged" if target else "create", values, target))
    return plan


def apply_enrollments(auth: AuthContext, plan: Plan, _invite: bool) -> None:
    apply_plan(auth, plan, Enrollment, "enrollment")


# --- guardians -------------------------------------------------------------------------------------


class GuardianRow(RowModel):
    admission_number: AdmissionNumber
    email: EmailStr
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    is_primary: Flag = False
    can_view_finance: Flag = False
    can_view_health: Flag = False


LINK_FIELDS = ("relationship", "is_primary", "can_view_finance", "can_view_health")


def plan_guardians(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(GuardianRow, rows, plan.errors),
        lambda r: (r.admission_number, str(r.email).lower()),
        "email",
        plan.errors,
    )
    students = _students_numbered(auth, {r.admission_number for _n, r in parsed})
    emails = {str(r.email).lower() for _n, r in parsed}
    users = {u.email: u for u in db.session.scalars(select(User).where(func.lower(User.email).in_(emails)))}
    links = {
        (link.student_id, link.user_id): link
        for link in db.session.scalars(
            auth.scoped(GuardianLink).where(GuardianLink.student_id.in_([s.id for s in students.values()]))
        )
    }
    for number, record in parsed:
        email = str(record.email).lower()
        student, user = students.get(record.admission_number), users.get(email)
        if student is None:
            plan.errors.append(
                CellError(number, "admission_number", "No student with this admission number.")
            )
        if user is not None and (user.school_id != auth.school_id or user.role != Role.PARENT):
            plan.errors.append(
                CellError(
                    number, "email", "This email belongs to an account that is not a parent of this school."
                )
            )
            continue
        if student is None:
            continue
        values = {name: getattr(record, name) for name in LINK_FIELDS}
        link = links.get((student.id, user.id)) if user is not None else None
        record_values = {**values, "student_id": student.id, "email": email, "full_name": record.full_name}
        step = step_for(number, record_values, link, values)
        plan.steps.append(step)
    return plan


def apply_guardians(auth: AuthContext, plan: Plan, send_invitations: bool) -> None:
    accounts: dict[str, User] = {}
    for step in plan.steps:
        if step.action == "update":
            update_from(step)
            audit.record(
                auth,
                "guardian.update",
                resource=step.target,
                resource_type="guardian_link",
                changes=step.changes,
            )
            continue
        if step.action != "create":
            continue
        email = step.record["email"]
        user = accounts.get(email) or db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(
                id=uuid.uuid4(),
                school_id=auth.school_id,
                email=email,
                full_name=step.record["full_name"],
                role=Role.PARENT.value,
                password_hash=NO_PASSWORD_YET,
                is_active=True,
            )
            db.session.add(user)
            audit.record(
                auth,
                "user.create",
                resource=user,
                resource_type="user",
                changes={"email": email, "role": "parent"},
            )
            if send_invitations:
                invite(auth, user)
        accounts[email] = user
        values = {name: step.record[name] for name in LINK_FIELDS}
        link = GuardianLink(
            id=uuid.uuid4(),
            school_id=auth.school_id,
            student_id=step.record["student_id"],
            user_id=user.id,
            **values,
        )
        db.session.add(link)
        audit.record(auth, "guardian.link", resource=link, resource_type="guardian_link", changes=values)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "students",
            STUDENT_COLUMNS,
            ("admission_number", "first_name", "last_name", "date_of_birth", "grade_level"),
            plan_students,
            apply_students,
        ),
        Kind(
            "classes",
            tuple(ClassRow.model_fields),
            ("term", "name", "subject", "grade_level"),
            plan_classes,
            apply_classes,
        ),
        Kind(
            "enrollments",
            tuple(EnrollmentRow.model_fields),
            tuple(EnrollmentRow.model_fields),
            plan_enrollments,
            apply_enrollments,
        ),
        Kind(
            "guardians",
            tuple(GuardianRow.model_fields),
            ("admission_number", "email", "full_name", "relationship"),
            plan_guardians,
            apply_guardians,
        ),
    )
}
