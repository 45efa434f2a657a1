"""The parent dashboard's response."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from backend.attendance import AttendanceOut
from backend.core.validation import OutputModel
from backend.fees import BalanceOut
from backend.grades import GradeStatus
from backend.reportcards import CardOut
from backend.students import StudentOut


class RecentGrade(OutputModel):
    assessment_id: uuid.UUID
    title: str
    class_name: str
    status: GradeStatus
    score: float | None
    max_score: float
    percentage: float | None
    due_on: dt.date | None


class ChildSummary(OutputModel):
    student: StudentOut
    relationship: str
    today: list[AttendanceOut]
    term_attendance_rate: float | None
    recent_grades: list[RecentGrade]
    balance: BalanceOut | None
    report_cards: list[CardOut] = Field(
        description="The latest published report of each term, newest first (if the link includes grades)."
    )


class DashboardOut(OutputModel):
    date: dt.date
    term_id: uuid.UUID | None
    term_name: str | None
    children: list[ChildSummary]
