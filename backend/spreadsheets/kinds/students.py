"""Students from CSV, matched by admission number: a new student starts active, enrolled today
unless the file says otherwise; a status comes with its leaving date; dates must be in order."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.core.csvfile import CellError
from backend.core.validation import IsoDate
from backend.spreadsheets.kinds.common import (
    AdmissionNumber,
    Kind,
    Rows,
    Text,
    grade_level_problem,
    is_grade_level,
    students_numbered,
)
from backend.spreadsheets.plans import Plan, RowModel, apply_plan, parse, step_for, unique_keys
from backend.students import Student, StudentStatus
from backend.tenancy import AuthContext


class StudentRow(RowModel):
    admission_number: AdmissionNumber
    first_name: Text
    last_name: Text
    date_of_birth: IsoDate
    grade_level: int
    enrolled_on: IsoDate | None = None
    status: StudentStatus | None = None
    left_on: IsoDate | None = None


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
    if not is_grade_level(merged["grade_level"]):
        problems.append(("grade_level", grade_level_problem(merged["grade_level"])))
    if merged["date_of_birth"] > today:
        problems.append(("date_of_birth", "Cannot be in the future."))
    if merged["enrolled_on"] < merged["date_of_birth"]:
        problems.append(("enrolled_on", "Cannot be before the date of birth."))
    return problems + _leaving_problems(merged)


def _leaving_problems(merged: dict[str, Any]) -> list[tuple[str, str]]:
    """A leaving date exactly when the student is no longer active, and not before enrolment."""
    left_on = merged.get("left_on")
    active = merged["status"] == StudentStatus.ACTIVE
    problems = []
    if active and left_on is not None:
        problems.append(("left_on", "An active student has no leaving date."))
    if not active and left_on is None:
        problems.append(("left_on", f"A {merged['status']} student needs a leaving date."))
    if left_on is not None and left_on < merged["enrolled_on"]:
        problems.append(("left_on", "Cannot be before enrolled_on."))
    return problems


def plan_students(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(StudentRow, rows, plan.errors), lambda r: r.admission_number, "admission_number", plan.errors
    )
    existing = students_numbered(auth, {record.admission_number for _n, record in parsed})
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


STUDENTS = Kind(
    "students",
    STUDENT_COLUMNS,
    ("admission_number", "first_name", "last_name", "date_of_birth", "grade_level"),
    plan_students,
    apply_students,
)
