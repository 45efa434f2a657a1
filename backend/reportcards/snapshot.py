"""What a published report card holds: frozen at publishing, read back by the API, the PDF and the
ZIP batch. Nothing here is computed again after publishing: later grade changes do not touch it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from backend.core.validation import OutputModel


class AttendanceCounts(OutputModel):
    """Attendance marks over the term. An excused absence is authorised, an absence unauthorised."""

    present: int
    late: int
    left_early: int
    absent_authorised: int
    absent_unauthorised: int
    total: int
    rate: float | None = Field(
        description="Attended (present, late, left early) over all marks but authorised absences, "
        "0 to 1; null with no marks."
    )


class ClassResult(OutputModel):
    """One class of the term: the weighted average of its published assessments and the grade."""

    class_id: uuid.UUID
    class_name: str
    subject: str
    teacher_name: str | None
    average: float | None = Field(
        description="Percentage, weighted by assessment weight, rounded as the scale says; a grade "
        "marked missing counts as 0, an exempt one not at all; null with nothing graded."
    )
    grade: str | None = Field(description="The scale's label for the average; null without a scale.")
    scale_name: str | None
    graded: int
    missing: int = Field(description="Grades marked missing (counted as 0).")
    exempt: int = Field(description="Grades marked exempt (excused: left out of the average).")
    not_graded: int = Field(description="Published assessments with no grade yet (left out).")
    attendance: AttendanceCounts
    comment: str | None
    comment_by: str | None


class ReportContent(OutputModel):
    """One student's report for one term."""

    school_name: str
    term_id: uuid.UUID
    term_name: str
    term_starts_on: date
    term_ends_on: date
    student_id: uuid.UUID
    admission_number: str
    first_name: str
    last_name: str
    grade_level: int
    classes: list[ClassResult]
    attendance: AttendanceCounts
    overall_comment: str | None
    overall_comment_by: str | None


class PublishedReport(OutputModel):
    """A published version: its content and when and by whom it was published."""

    id: uuid.UUID
    version: int
    published_at: datetime
    published_on: date = Field(description="The day it was published, in the school's time zone.")
    published_by_name: str | None
    changes: list[str] = Field(description="What changed since the previous version (empty for version 1).")
    content: ReportContent


def percent_text(value: float | None) -> str:
    """An average as the report prints it: "71.5%", "70%"; an em dash for none."""
    if value is None:
        return "\u2014"
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def rate_text(rate: float | None) -> str:
    """An attendance rate (0 to 1) as the report prints it: "93.8%"; an em dash for none."""
    return "\u2014" if rate is None else percent_text(round(rate * 100, 1))
