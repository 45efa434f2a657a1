"""Request and response bodies for /api/students and a student's guardians."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, field_validator

from backend.core.pagination import PageQuery
from backend.core.validation import InputModel, Integer, IsoDate, OutputModel, PatchModel
from backend.students.models import StudentStatus

Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
GradeLevel = Annotated[
    Integer, Field(ge=0, le=20, description="0 is the first year (reception/kindergarten).")
]


def _not_in_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise ValueError("cannot be in the future")
    return value


class StudentIn(InputModel):
    admission_number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    first_name: Text100
    last_name: Text100
    date_of_birth: IsoDate
    grade_level: GradeLevel
    enrolled_on: IsoDate | None = Field(
        default=None, description="Defaults to today in the school's time zone."
    )

    _dob = field_validator("date_of_birth")(_not_in_future)


class StudentUpdateIn(PatchModel):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"left_on"})

    first_name: Text100 | None = None
    last_name: Text100 | None = None
    date_of_birth: IsoDate | None = None
    grade_level: GradeLevel | None = None
    status: StudentStatus | None = None
    enrolled_on: IsoDate | None = None
    left_on: IsoDate | None = None

    _dob = field_validator("date_of_birth")(_not_in_future)


class StudentListQuery(PageQuery):
    status: StudentStatus | None = None
    grade_level: GradeLevel | None = None
    class_id: uuid.UUID | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="Part of a name or the admission number."
    )


class StudentOut(OutputModel):
    id: uuid.UUID
    admission_number: str
    first_name: str
    last_name: str
    date_of_birth: date
    grade_level: int
    status: StudentStatus
    enrolled_on: date
    left_on: date | None
    created_at: datetime
    updated_at: datetime


class GuardianLinkIn(InputModel):
    user_id: uuid.UUID
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    is_primary: bool = False
    can_view_finance: bool = False
    can_view_health: bool = False
    can_view_grades: bool = Field(
        default=True, description="Published grades and report cards (on unless the school turns it off)."
    )


class GuardianOut(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    user_id: uuid.UUID
    full_name: str
    email: str
    relationship: str
    is_primary: bool
    can_view_finance: bool
    can_view_health: bool
    can_view_grades: bool
