"""Attendance reports for staff: registers not taken, runs of absence, attendance rates.

Teachers see their own classes and students; admins the school. A "school day" is a day on which
the school recorded any attendance."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import SQLColumnExpression, exists, func, null, select

from backend.attendance.models import ATTENDED, AttendanceRecord, AttendanceStatus
from backend.attendance.schemas import AbsenceRunOut, MissingRegisterOut, RateOut
from backend.attendance.service import attendance_rate
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, teaching
from backend.core.errors import ValidationFailed
from backend.core.extensions import db
from backend.core.models import Base
from backend.students import Student, visible_students
from backend.tenancy import AuthContext

LOOKBACK_DAYS = 120  # how far back a run of absences is followed


def registers_not_taken(auth: AuthContext, on_date: date) -> list[MissingRegisterOut]:
    """Classes of a term running on `on_date`, with students, and no mark for that day."""
    taken = exists().where(AttendanceRecord.class_id == SchoolClass.id, AttendanceRecord.on_date == on_date)
    students = select(func.count()).where(Enrollment.class_id == SchoolClass.id).scalar_subquery()
    rows = db.session.execute(
        select(SchoolClass.id, SchoolClass.name, User.full_name, students)
        .join(Term, Term.id == SchoolClass.term_id)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(
            auth.owns(SchoolClass), teaching(auth), Term.starts_on <= on_date, Term.ends_on >= on_date, ~taken
        )
        .order_by(User.full_name, SchoolClass.name)
    )
    return [
        MissingRegisterOut(class_id=class_id, class_name=class_name, teacher=teacher, students=students)
        for class_id, class_name, teacher, students in rows
        if students > 0
    ]


def _school_days(auth: AuthContext, today: date) -> list[date]:
    return list(
        db.session.scalars(
            select(AttendanceRecord.on_date)
            .where(
                auth.owns(AttendanceRecord),
                AttendanceRecord.on_date.between(today - timedelta(LOOKBACK_DAYS), today),
            )
            .group_by(AttendanceRecord.on_date)
            .order_by(AttendanceRecord.on_date.desc())
        )
    )


def absence_runs(auth: AuthContext, least: int) -> list[AbsenceRunOut]:
    """Students absent on each of the latest `least` or more school days (absent and not marked
    attended in any class that day), longest run first."""
    days = _school_days(auth, auth.today())
    if not days:
        return []
    marks: dict[uuid.UUID, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    people: dict[uuid.UUID, tuple[str, str, str]] = {}
    rows = db.session.execute(
        select(
            Student.id,
            Student.admission_number,
            Student.first_name,
            Student.last_name,
            AttendanceRecord.on_date,
            AttendanceRecord.status,
        )
        .join(AttendanceRecord, AttendanceRecord.student_id == Student.id)
        .where(auth.owns(Student), visible_students(auth), AttendanceRecord.on_date >= days[-1])
    )
    for student_id, number, first, last, on_date, status in rows:
        marks[student_id][on_date].add(status)
        people[student_id] = (number, first, last)
    runs = []
    for student_id, by_day in marks.items():
        length = 0
        for day in days:
            statuses = by_day.get(day, set())
            if AttendanceStatus.ABSENT not in statuses or statuses & ATTENDED:
                break
            length += 1
        if length >= least:
            number, first, last = people[student_id]
            runs.append(
                AbsenceRunOut(
                    student_id=student_id,
                    admission_number=number,
                    first_name=first,
                    last_name=last,
                    days=length,
                    since=days[length - 1],
                )
            )
    return sorted(runs, key=lambda r: (-r.days, r.last_name, r.first_name))


def attendance_rates(auth: AuthContext, start: date, end: date, by: str) -> list[RateOut]:
    """Counts per status and the rate, per class or per student (with the student's admission
    number), over the range; by name, then admission number."""
    if start > end or end - start > timedelta(days=366):
        raise ValidationFailed.on("query.from", "`from` must be on or before `to`, at most 366 days apart.")
    key: SQLColumnExpression[uuid.UUID]
    name: SQLColumnExpression[str]
    number: SQLColumnExpression[str | None]
    grouped: tuple[SQLColumnExpression[str | None], ...]
    model: type[Base]
    if by == "class":
        key, name, model, scope = SchoolClass.id, SchoolClass.name, SchoolClass, teaching(auth)
        number, grouped = null(), ()  # PostgreSQL refuses a constant in GROUP BY
        join = SchoolClass.id == AttendanceRecord.class_id
    else:
        key, model, scope = Student.id, Student, visible_students(auth)
        name, number = Student.last_name + ", " + Student.first_name, Student.admission_number
        grouped = (number,)
        join = Student.id == AttendanceRecord.student_id
    rows = db.session.execute(
        select(key, name, number, AttendanceRecord.status, func.count())
        .join(AttendanceRecord, join)
        .where(
            auth.owns(model), scope, auth.owns(AttendanceRecord), AttendanceRecord.on_date.between(start, end)
        )
        .group_by(key, name, AttendanceRecord.status, *grouped)
    )
    counts: dict[tuple[uuid.UUID, str, str | None], dict[str, int]] = defaultdict(dict)
    for row_id, row_name, row_number, status, count in rows:
        counts[(row_id, row_name, row_number)][status] = count
    ordered = sorted(counts.items(), key=lambda item: (item[0][1], item[0][2] or ""))
    return [_rate(*row, c) for row, c in ordered]


def _rate(row_id: uuid.UUID, row_name: str, admission_number: str | None, counts: dict[str, int]) -> RateOut:
    return RateOut(
        id=row_id,
        name=row_name,
        admission_number=admission_number,
        present=counts.get(AttendanceStatus.PRESENT, 0),
        absent=counts.get(AttendanceStatus.ABSENT, 0),
        late=counts.get(AttendanceStatus.LATE, 0),
        excused=counts.get(AttendanceStatus.EXCUSED, 0),
        left_early=counts.get(AttendanceStatus.LEFT_EARLY, 0),
        attendance_rate=attendance_rate(counts),
    )
