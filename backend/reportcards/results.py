"""Term results: per student and class, the weighted average of the class's published assessments,
the scale's grade, the counts behind them and the attendance marks; one statement per class,
whatever the number of students (`class_marks`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, case, func, select, type_coerce

from backend.attendance import AttendanceRecord, AttendanceStatus, attendance_rate
from backend.classes import Enrollment, SchoolClass, Term
from backend.core.extensions import db
from backend.grades import Assessment, Grade, GradeStatus
from backend.reportcards.scales import Scale, round_plain
from backend.reportcards.snapshot import AttendanceCounts
from backend.students import Student
from backend.tenancy import AuthContext

# Sums read back with 12 places: SQLite's driver hands back floats, which a column's own type (2
# places) would round before the average is taken (0.795 of a weight as 0.80).
EXACT = Numeric(38, 12)
# An attendance status -> the field of AttendanceCounts it is counted in.
MARKS = {
    AttendanceStatus.PRESENT: "present",
    AttendanceStatus.LATE: "late",
    AttendanceStatus.LEFT_EARLY: "left_early",
    AttendanceStatus.EXCUSED: "absent_authorised",
    AttendanceStatus.ABSENT: "absent_unauthorised",
}


def attendance_counts(per_status: dict[str, int]) -> AttendanceCounts:
    counts = {field: int(per_status.get(status.value) or 0) for status, field in MARKS.items()}
    return AttendanceCounts(
        **counts,
        total=sum(counts.values()),
        rate=attendance_rate({status.value: counts[field] for status, field in MARKS.items()}),
    )


@dataclass(frozen=True)
class Marks:
    """One student's result in one class."""

    student_id: uuid.UUID
    admission_number: str
    first_name: str
    last_name: str
    average: float | None
    grade: str | None
    graded: int
    missing: int
    exempt: int
    not_graded: int
    attendance: AttendanceCounts


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _grades(auth: AuthContext, published: ColumnElement[bool]) -> Any:
    counted = Grade.status != GradeStatus.EXEMPT.value
    share = Assessment.weight * func.coalesce(Grade.score, 0) / Assessment.max_score
    return (
        select(
            Grade.student_id.label("student_id"),
            _count(Grade.status == GradeStatus.GRADED.value).label("graded"),
            _count(Grade.status == GradeStatus.MISSING.value).label("missing"),
            _count(Grade.status == GradeStatus.EXEMPT.value).label("exempt"),
            type_coerce(func.sum(case((counted, Assessment.weight), else_=0)), EXACT).label("weight"),
            type_coerce(func.sum(case((counted, share), else_=0)), EXACT).label("points"),
        )
        .join(Assessment, Assessment.id == Grade.assessment_id)
        # The school through the assessment (`published`): `grades.school_id` would lead a planner
        # without statistics to read every grade of the school for each class.
        .where(published)
        .group_by(Grade.student_id)
        .subquery()
    )


def _attendance(auth: AuthContext, class_id: uuid.UUID, term: Term) -> Any:
    return (
        select(
            AttendanceRecord.student_id.label("student_id"),
            *(_count(AttendanceRecord.status == status.value).label(status.value) for status in MARKS),
        )
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.class_id == class_id,
            AttendanceRecord.on_date.between(term.starts_on, term.ends_on),
        )
        .group_by(AttendanceRecord.student_id)
        .subquery()
    )


def _average(weight: Any, points: Any, scale: Scale | None) -> tuple[float | None, str | None]:
    if not weight:
        return None, None
    average = Decimal(str(points)) / Decimal(str(weight)) * 100
    if scale is None:
        return float(round_plain(average)), None
    rounded = scale.rounded(average)
    return float(rounded), scale.grade(rounded)


def class_marks(
    auth: AuthContext,
    school_class: SchoolClass,
    term: Term,
    scale: Scale | None,
    students: Select[uuid.UUID] | None = None,
) -> list[Marks]:
    """Every enrolled student's result in the class (only `students`, when given), by name: one
    statement joining the grades and the attendance, each summed per student."""
    published = (
        auth.owns(Assessment) & (Assessment.class_id == school_class.id) & Assessment.published.is_(True)
    )
    grades, seen = _grades(auth, published), _attendance(auth, school_class.id, term)
    total = select(func.count(Assessment.id)).where(published).scalar_subquery()
    statement = (
        select(
            Student.id,
            Student.admission_number,
            Student.first_name,
            Student.last_name,
            grades.c.graded,
            grades.c.missing,
            grades.c.exempt,
            grades.c.weight,
            grades.c.points,
            total.label("published"),
            *(seen.c[status.value] for status in MARKS),
        )
        .join(Enrollment, (Enrollment.student_id == Student.id) & (Enrollment.class_id == school_class.id))
        .outerjoin(grades, grades.c.student_id == Student.id)
        .outerjoin(seen, seen.c.student_id == Student.id)
        .where(auth.owns(Student), auth.owns(Enrollment))
        .order_by(Student.last_name, Student.first_name, Student.id)
    )
    if students is not None:
        statement = statement.where(Student.id.in_(students))
    return [_marks(row, scale) for row in db.session.execute(statement)]


def _marks(row: Any, scale: Scale | None) -> Marks:
    graded, missing, exempt = int(row.graded or 0), int(row.missing or 0), int(row.exempt or 0)
    average, grade = _average(row.weight, row.points, scale)
    return Marks(
        student_id=row.id,
        admission_number=row.admission_number,
        first_name=row.first_name,
        last_name=row.last_name,
        average=average,
        grade=grade,
        graded=graded,
        missing=missing,
        exempt=exempt,
        not_graded=max(int(row.published) - graded - missing - exempt, 0),
        attendance=attendance_counts({status.value: row._mapping[status.value] for status in MARKS}),
    )


def term_attendance(
    auth: AuthContext, term: Term, students: Select[uuid.UUID]
) -> dict[uuid.UUID, AttendanceCounts]:
    """Each student's marks over the term, every class and the daily register together."""
    per_student: dict[uuid.UUID, dict[str, int]] = {}
    for student_id, status, count in db.session.execute(
        select(AttendanceRecord.student_id, AttendanceRecord.status, func.count())
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.student_id.in_(students),
            AttendanceRecord.on_date.between(term.starts_on, term.ends_on),
        )
        .group_by(AttendanceRecord.student_id, AttendanceRecord.status)
    ):
        per_student.setdefault(student_id, {})[status] = count
    return {student_id: attendance_counts(counts) for student_id, counts in per_student.items()}
