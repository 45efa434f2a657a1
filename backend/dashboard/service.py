"""The parent dashboard: every linked child at a glance, in a fixed number of queries.

A child's fee balance shows only where the parent's link allows seeing fees, grades and report
cards only where it includes grades.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select

from backend.attendance import AttendanceOut, AttendanceRecord, attendance_rate
from backend.classes import SchoolClass, Term, term_on
from backend.core.extensions import db
from backend.dashboard.schemas import ChildSummary, DashboardOut, RecentGrade
from backend.fees import student_balances
from backend.grades import Assessment, Grade, GradeStatus, percentage
from backend.reportcards import latest_for
from backend.students import GuardianLink, Student, StudentOut
from backend.tenancy import AuthContext

RECENT_GRADES = 5
Ids = list[uuid.UUID]


def _today(auth: AuthContext, ids: Ids, today: date) -> dict[uuid.UUID, list[AttendanceRecord]]:
    records: dict[uuid.UUID, list[AttendanceRecord]] = defaultdict(list)
    for record in db.session.scalars(
        auth.scoped(AttendanceRecord).where(
            AttendanceRecord.student_id.in_(ids),
            AttendanceRecord.on_date == today,
        )
    ):
        records[record.student_id].append(record)
    return records


def _term_rates(auth: AuthContext, ids: Ids, term: Term | None, today: date) -> dict[uuid.UUID, float | None]:
    if term is None:
        return {}
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for student_id, status, count in db.session.execute(
        select(AttendanceRecord.student_id, AttendanceRecord.status, func.count())
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.student_id.in_(ids),
            AttendanceRecord.on_date.between(term.starts_on, min(today, term.ends_on)),
        )
        .group_by(AttendanceRecord.student_id, AttendanceRecord.status)
    ):
        counts[student_id][status] = count
    return {student_id: attendance_rate(per_status) for student_id, per_status in counts.items()}


def _recent_grades(auth: AuthContext, ids: Ids) -> dict[uuid.UUID, list[RecentGrade]]:
    """The latest published grades of each child, RECENT_GRADES at most, in one query."""
    rank = func.row_number().over(partition_by=Grade.student_id, order_by=(Grade.updated_at.desc(), Grade.id))
    ranked = (
        select(
            Grade.student_id,
            Grade.assessment_id,
            Grade.status,
            Grade.score,
            Assessment.title,
            Assessment.max_score,
            Assessment.due_on,
            SchoolClass.name.label("class_name"),
            rank.label("rank"),
        )
        .join(Assessment, Assessment.id == Grade.assessment_id)
        .join(SchoolClass, SchoolClass.id == Assessment.class_id)
        .where(auth.owns(Grade), Grade.student_id.in_(ids), Assessment.published.is_(True))
        .subquery()
    )
    grades: dict[uuid.UUID, list[RecentGrade]] = defaultdict(list)
    latest = select(ranked).where(ranked.c.rank <= RECENT_GRADES).order_by(ranked.c.rank)
    for row in db.session.execute(latest):
        grades[row.student_id].append(
            RecentGrade(
                assessment_id=row.assessment_id,
                title=row.title,
                class_name=row.class_name,
                status=GradeStatus(row.status),
                score=None if row.score is None else float(row.score),
                max_score=float(row.max_score),
                percentage=percentage(row.score, row.max_score),
                due_on=row.due_on,
            )
        )
    return grades


def parent_dashboard(auth: AuthContext) -> DashboardOut:
    today = auth.today()
    term = term_on(auth, today)
    children = db.session.execute(  # the columns StudentOut shows, not Student objects
        auth.scoped_columns(Student, StudentOut)
        .add_columns(GuardianLink.relationship, GuardianLink.can_view_finance, GuardianLink.can_view_grades)
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .where(GuardianLink.user_id == auth.user_id, auth.owns(GuardianLink))
        .order_by(Student.last_name, Student.first_name, Student.id)
    ).all()
    ids = [child.id for child in children]
    attendance = _today(auth, ids, today)
    rates = _term_rates(auth, ids, term, today)
    grades = _recent_grades(auth, [child.id for child in children if child.can_view_grades])
    reports = latest_for(auth, ids)
    money = student_balances(auth, [child.id for child in children if child.can_view_finance])
    return DashboardOut(
        date=today,
        term_id=term.id if term else None,
        term_name=term.name if term else None,
        children=[
            ChildSummary(
                student=StudentOut.model_validate(child),
                relationship=child.relationship,
                today=[AttendanceOut.model_validate(record) for record in attendance[child.id]],
                term_attendance_rate=rates.get(child.id),
                recent_grades=grades[child.id],
                balance=money.get(child.id),
                report_cards=reports[child.id],
            )
            for child in children
        ],
    )
