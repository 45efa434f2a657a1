"""Request and response bodies for assessments and grades."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from backend.core.validation import (
    MAX_HUNDREDTHS,
    DecimalText,
    InputModel,
    IsoDate,
    OutputModel,
    PatchModel,
    decimal_schema,
    one_per_student,
)
from backend.grades.models import GradeStatus

Score = Annotated[
    Decimal, DecimalText, Field(ge=0, le=MAX_HUNDREDTHS, decimal_places=2), decimal_schema(Decimal(0))
]
MAX_WEIGHT = Decimal("9999.99")  # the column's precision (6, 2)
Weight = Annotated[
    Decimal,
    DecimalText,
    Field(ge=Decimal("0.01"), le=MAX_WEIGHT, decimal_places=2),
    decimal_schema(Decimal("0.01"), MAX_WEIGHT),
]
Positive = Annotated[
    Decimal,
    DecimalText,
    Field(ge=Decimal("0.01"), le=MAX_HUNDREDTHS, decimal_places=2),
    decimal_schema(Decimal("0.01")),
]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=50)]


class AssessmentIn(InputModel):
    title: Title
    category: Category = Field(description="e.g. homework, quiz, exam")
    max_score: Positive
    weight: Weight = Decimal(1)
    due_on: IsoDate | None = None
    published: bool = False


class AssessmentUpdateIn(PatchModel):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"due_on"})

    title: Title | None = None
    category: Category | None = None
    max_score: Positive | None = None
    weight: Weight | None = None
    due_on: IsoDate | None = None
    published: bool | None = None


class AssessmentOut(OutputModel):
    id: uuid.UUID
    class_id: uuid.UUID
    title: str
    category: str
    max_score: float
    weight: float
    due_on: date | None
    published: bool
    created_at: datetime
    updated_at: datetime


class GradeEntry(InputModel):
    student_id: uuid.UUID
    status: GradeStatus = GradeStatus.GRADED
    score: Score | None = None
    comment: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _score_when_graded(self) -> GradeEntry:
        if (self.status == GradeStatus.GRADED) != (self.score is not None):
            raise ValueError("give a score exactly when the status is 'graded'")
        return self


class BulkGradesIn(InputModel):
    grades: list[GradeEntry] = Field(min_length=1, max_length=500)

    _one_per_student = field_validator("grades")(one_per_student)


class GradeOut(OutputModel):
    id: uuid.UUID
    assessment_id: uuid.UUID
    student_id: uuid.UUID
    status: GradeStatus
    score: float | None
    comment: str | None
    updated_at: datetime


class StudentGradesQuery(InputModel):
    term_id: uuid.UUID | None = None


class StudentGradeOut(OutputModel):
    assessment_id: uuid.UUID
    title: str
    category: str
    class_id: uuid.UUID
    class_name: str
    term_id: uuid.UUID
    due_on: date | None
    max_score: float
    weight: float
    status: GradeStatus
    score: float | None
    percentage: float | None
    comment: str | None


class TermSummary(OutputModel):
    term_id: uuid.UUID
    term_name: str
    graded: int
    missing: int
    exempt: int
    average_percentage: float | None = Field(
        description="Weighted by assessment weight; a missing grade counts as 0, an exempt one not at all."
    )


class StudentGradesOut(OutputModel):
    items: list[StudentGradeOut]
    terms: list[TermSummary]
