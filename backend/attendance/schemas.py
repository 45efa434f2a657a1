"""Request and response bodies for attendance."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from backend.attendance.models import AttendanceStatus
from backend.core.pagination import PageQuery
from backend.core.validation import InputModel, IsoDate, OutputModel, PatchModel, one_per_student

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]
MAX_RANGE_DAYS = 366


class AttendanceDateQuery(InputModel):
    date: IsoDate


class AttendanceEntry(InputModel):
    student_id: uuid.UUID
    status: AttendanceStatus
    reason: Reason | None = None


class BulkAttendanceIn(InputModel):
    records: list[AttendanceEntry] = Field(min_length=1, max_length=500)

    _one_per_student = field_validator("records")(one_per_student)


class AttendanceCorrectionIn(PatchModel):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"reason"})

    status: AttendanceStatus | None = None
    reason: Reason | None = None


class AttendanceRangeQuery(PageQuery):
    from_: IsoDate | None = Field(default=None, alias="from", description="Defaults to 30 days before `to`.")
    to: IsoDate | None = Field(default=None, description="Defaults to today in the school's time zone.")

    @model_validator(mode="after")
    def _bounded(self) -> AttendanceRangeQuery:
        start, end = self.from_, self.to
        if start and end and (end < start or end - start > dt.timedelta(MAX_RANGE_DAYS)):
            raise ValueError(f"`from` must be on or before `to`, at most {MAX_RANGE_DAYS} days apart")
        return self


class AttendanceOut(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    class_id: uuid.UUID | None
    date: dt.date = Field(validation_alias="on_date")
    status: AttendanceStatus
    reason: str | None
    recorded_by: uuid.UUID
    updated_at: dt.datetime


class AttendanceSummary(OutputModel):
    from_: dt.date = Field(serialization_alias="from")
    to: dt.date
    present: int
    absent: int
    late: int
    excused: int
    left_early: int
    total: int
    attendance_rate: float | None = Field(
        description="(present + late + left_early) / (total - excused); null when nothing counts."
    )


class StudentAttendanceOut(OutputModel):
    items: list[AttendanceOut]
    next_cursor: str | None
    summary: AttendanceSummary


# --- reports ---------------------------------------------------------------------------------------


class RegistersQuery(InputModel):
    date: IsoDate | None = Field(default=None, description="Defaults to today in the school's time zone.")


class AbsencesQuery(InputModel):
    days: int = Field(
        default=3, ge=1, le=60, description="At least this many school days in a row, up to today."
    )


class RatesQuery(InputModel):
    from_: IsoDate = Field(alias="from")
    to: IsoDate
    by: Literal["class", "student"] = "class"


class MissingRegisterOut(OutputModel):
    class_id: uuid.UUID
    class_name: str
    teacher: str | None
    students: int


class AbsenceRunOut(OutputModel):
    student_id: uuid.UUID
    admission_number: str
    first_name: str
    last_name: str
    days: int
    since: dt.date


class RateOut(OutputModel):
    id: uuid.UUID
    name: str
    admission_number: str | None = Field(
        description="By student: the student's admission number. By class: null (not in the CSV)."
    )
    present: int
    absent: int
    late: int
    excused: int
    left_early: int
    attendance_rate: float | None
