"""Request and response bodies for /api/terms and /api/classes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator

from backend.core.pagination import PageQuery
from backend.core.validation import InputModel, IsoDate, OutputModel, PatchModel
from backend.students import GradeLevel

Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class TermIn(InputModel):
    name: Text100
    starts_on: IsoDate
    ends_on: IsoDate

    @model_validator(mode="after")
    def _ordered(self) -> TermIn:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on cannot be before starts_on")
        return self


class TermOut(OutputModel):
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date


class ClassIn(InputModel):
    name: Text100
    subject: Text100
    grade_level: GradeLevel
    term_id: uuid.UUID
    teacher_id: uuid.UUID | None = None


class ClassUpdateIn(PatchModel):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"teacher_id"})

    name: Text100 | None = None
    subject: Text100 | None = None
    grade_level: GradeLevel | None = None
    teacher_id: uuid.UUID | None = None


class ClassListQuery(PageQuery):
    term_id: uuid.UUID | None = None


class ClassOut(OutputModel):
    id: uuid.UUID
    name: str
    subject: str
    grade_level: int
    term_id: uuid.UUID
    teacher_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class EnrollmentIn(InputModel):
    student_id: uuid.UUID


class BulkEnrollmentIn(InputModel):
    student_ids: list[uuid.UUID] = Field(min_length=1, max_length=2000)


class PromoteIn(InputModel):
    to_class_id: uuid.UUID = Field(description="Next year's class: the active students are enrolled in it.")


class BulkEnrollmentOut(OutputModel):
    class_id: uuid.UUID
    enrolled: list[uuid.UUID] = Field(description="Enrolled by this call.")
    already: list[uuid.UUID] = Field(description="In the class before this call.")
