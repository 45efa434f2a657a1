"""A student's report for a term, built from the live data: the draft staff read, and what
publishing freezes. One statement per class of the term, plus one each for the students, the
comments and the term's attendance, whatever the number of students."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select

from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, teaching
from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.reportcards.models import ReportComment
from backend.reportcards.results import Marks, attendance_counts, class_marks, term_attendance
from backend.reportcards.scales import Scale, scales_for
from backend.reportcards.snapshot import ClassResult, ReportContent
from backend.schools import School
from backend.students import Student
from backend.tenancy import AuthContext

Ids = Select[uuid.UUID]


def term_of(auth: AuthContext, term_id: uuid.UUID) -> Term:
    term = db.session.scalar(auth.scoped(Term).where(Term.id == term_id))
    if term is None:
        raise NotFound("Term not found.")
    return term


def enrolled(auth: AuthContext, term: Term) -> Ids:
    """The ids of the students enrolled in a class of the term."""
    return (
        select(Enrollment.student_id)
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(auth.owns(Enrollment), auth.owns(SchoolClass), SchoolClass.term_id == term.id)
        .distinct()
    )


def _classes(
    auth: AuthContext, term: Term, students: Ids | None, own_only: bool
) -> list[tuple[SchoolClass, str | None]]:
    """The term's classes (those any of `students` is enrolled in), with the teacher's name."""
    statement = (
        select(SchoolClass, User.full_name)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(auth.owns(SchoolClass), SchoolClass.term_id == term.id)
        .order_by(SchoolClass.name, SchoolClass.id)
    )
    if students is not None:
        enrolled_here = (Enrollment.class_id == SchoolClass.id) & Enrollment.student_id.in_(students)
        statement = statement.where(select(Enrollment.id).where(enrolled_here).exists())
    if own_only:
        statement = statement.where(teaching(auth))
    return [(row[0], row[1]) for row in db.session.execute(statement)]


def _comments(auth: AuthContext, term: Term, students: Ids) -> dict[tuple[uuid.UUID, uuid.UUID | None], Any]:
    """(student, class or None for the overall comment) -> (body, author's name)."""
    rows = db.session.execute(
        select(ReportComment.student_id, ReportComment.class_id, ReportComment.body, User.full_name)
        .join(User, User.id == ReportComment.author_id)
        .where(
            auth.owns(ReportComment), ReportComment.term_id == term.id, ReportComment.student_id.in_(students)
        )
    )
    return {(row.student_id, row.class_id): (row.body, row.full_name) for row in rows}


def _class_result(
    school_class: SchoolClass, teacher: str | None, scale: Scale | None, marks: Marks, comment: Any
) -> ClassResult:
    body, author = comment if comment else (None, None)
    return ClassResult(
        class_id=school_class.id,
        class_name=school_class.name,
        subject=school_class.subject,
        teacher_name=teacher,
        average=marks.average,
        grade=marks.grade,
        scale_name=scale.name if scale else None,
        graded=marks.graded,
        missing=marks.missing,
        exempt=marks.exempt,
        not_graded=marks.not_graded,
        attendance=marks.attendance,
        comment=body,
        comment_by=author,
    )


def build(
    auth: AuthContext, term: Term, only: Ids | None, *, own_classes_only: bool = False
) -> tuple[dict[uuid.UUID, ReportContent], set[uuid.UUID]]:
    """Each student's report (every student enrolled in a class of the term, or those of `only`),
    and the ids of the scales used. `own_classes_only`: a teacher's draft shows the classes they
    teach. The whole term is read with no filter on students: a planner is quickest that way."""
    students = only if only is not None else enrolled(auth, term)
    school_name = db.session.scalar(select(School.name).where(School.id == auth.school_id)) or ""
    classes = _classes(auth, term, only, own_classes_only)
    scales = scales_for(auth, (school_class.id for school_class, _teacher in classes))
    comments = _comments(auth, term, students)
    results: dict[uuid.UUID, list[ClassResult]] = defaultdict(list)
    for school_class, teacher in classes:
        scale = scales[school_class.id]
        for marks in class_marks(auth, school_class, term, scale, only):
            comment = comments.get((marks.student_id, school_class.id))
            results[marks.student_id].append(_class_result(school_class, teacher, scale, marks, comment))
    attendance = term_attendance(auth, term, students)
    people: Iterable[Student] = (
        db.session.scalars(auth.scoped(Student).where(Student.id.in_(students))) if results else []
    )
    contents = {
        student.id: _content(school_name, term, student, results[student.id], attendance, comments)
        for student in people
        if student.id in results
    }
    used = {scale.id for scale in scales.values() if scale is not None}
    return contents, used


def _content(
    school_name: str,
    term: Term,
    student: Student,
    classes: list[ClassResult],
    attendance: dict[uuid.UUID, Any],
    comments: dict[tuple[uuid.UUID, uuid.UUID | None], Any],
) -> ReportContent:
    overall, overall_by = comments.get((student.id, None)) or (None, None)
    return ReportContent(
        school_name=school_name,
        term_id=term.id,
        term_name=term.name,
        term_starts_on=term.starts_on,
        term_ends_on=term.ends_on,
        student_id=student.id,
        admission_number=student.admission_number,
        first_name=student.first_name,
        last_name=student.last_name,
        grade_level=student.grade_level,
        classes=classes,
        attendance=attendance.get(student.id) or attendance_counts({}),
        overall_comment=overall,
        overall_comment_by=overall_by,
    )
