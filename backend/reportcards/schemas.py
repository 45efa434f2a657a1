"""Request and response bodies for grade scales, term results, comments and report cards."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from backend.core.pagination import PageQuery
from backend.core.validation import (
    ONE_LINE,
    VISIBLE,
    DecimalText,
    InputModel,
    OutputModel,
    PatchModel,
    decimal_schema,
)
from backend.reportcards.snapshot import AttendanceCounts

MAX_COMMENT = 1000
HUNDRED = Decimal(100)


def plain_comment(text: str) -> str:
    """A comment as stored: NFC (an accented letter is one character, as spell-checkers and the
    PDF expect), CR LF as LF, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > MAX_COMMENT:  # a few characters compose into two (U+FB1D): judged again
        raise ValueError(f"At most {MAX_COMMENT} characters once normalised; this is {len(text)}.")
    return text


Comment = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_COMMENT, pattern=f"^{VISIBLE}*$"),
    AfterValidator(plain_comment),
]
Percent = Annotated[
    Decimal, DecimalText, Field(ge=0, le=HUNDRED, decimal_places=2), decimal_schema(Decimal(0))
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=f"^{ONE_LINE}*$")]
ScaleName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=f"^{ONE_LINE}*$")]


class Band(InputModel):
    min: Percent = Field(description="The lowest average (percent) that earns this label.")
    label: Label


def _bands_in_order(bands: list[Band]) -> list[Band]:
    if any(later.min >= earlier.min for earlier, later in pairwise(bands)):
        raise ValueError("List the bands from the highest `min` down, each lower than the one before.")
    if bands[-1].min != 0:
        raise ValueError("The last band must start at 0, so that every average has a label.")
    if len({band.label.casefold() for band in bands}) != len(bands):
        raise ValueError("Each band needs its own label.")
    return bands


Bands = Annotated[list[Band], Field(min_length=2, max_length=20), AfterValidator(_bands_in_order)]
# Whole numbers: strict in a body (no `true`, no "1"), as query strings in a query. (`core.validation.
# Integer` with bounds would lose them from the OpenAPI document: its validator wraps the bounds.)
Decimals = Annotated[
    int, Field(strict=True, ge=0, le=2, description="Places the average is rounded to (half up).")
]
YearGroup = Annotated[
    int, Field(strict=True, ge=0, le=20, description="A year group (students' grade level).")
]
YearQuery = Annotated[int, Field(ge=0, le=20, description="Only this year group (students' grade level).")]


class ScaleIn(InputModel):
    name: ScaleName
    bands: Bands
    decimals: Decimals = 1
    is_default: bool = Field(default=False, description="The scale of every class without its own.")


class ScaleUpdateIn(PatchModel):
    name: ScaleName | None = None
    bands: Bands | None = None
    decimals: Decimals | None = None
    is_default: bool | None = None


class BandOut(OutputModel):
    min: float
    label: str


class ScaleOut(OutputModel):
    id: uuid.UUID
    name: str
    bands: list[BandOut]
    decimals: int
    is_default: bool
    locked: bool = Field(description="Used by a published report: its bands and rounding are fixed.")
    created_at: datetime
    updated_at: datetime


class ClassScaleIn(InputModel):
    scale_id: uuid.UUID | None = Field(description="The class's own scale; null for the school's default.")


class ClassScaleOut(OutputModel):
    class_id: uuid.UUID
    scale_id: uuid.UUID | None
    own: bool = Field(description="False when the class uses the school's default.")


class StudentResult(OutputModel):
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
    comment: str | None


class ClassResultsOut(OutputModel):
    class_id: uuid.UUID
    class_name: str
    term_id: uuid.UUID
    scale_id: uuid.UUID | None
    scale_name: str | None
    published_assessments: int
    items: list[StudentResult]


class CommentIn(InputModel):
    body: Comment = Field(description="Plain text, at most 1,000 characters; line breaks kept.")


class CommentOut(OutputModel):
    id: uuid.UUID
    term_id: uuid.UUID
    student_id: uuid.UUID
    class_id: uuid.UUID | None
    body: str
    author_id: uuid.UUID
    updated_at: datetime


class MissingComment(OutputModel):
    student_id: uuid.UUID
    admission_number: str
    name: str


class ClassProgress(OutputModel):
    class_id: uuid.UUID
    class_name: str
    students: int
    written: int
    missing: list[MissingComment]


class TeacherProgress(OutputModel):
    teacher_id: uuid.UUID | None
    teacher_name: str | None
    students: int
    written: int
    classes: list[ClassProgress]


class ProgressOut(OutputModel):
    term_id: uuid.UUID
    teachers: list[TeacherProgress]
    overall_students: int = Field(description="Students enrolled in the term's classes (admins only).")
    overall_written: int
    overall_missing: list[MissingComment]


class Scope(StrEnum):
    CLASS = "class"
    YEAR = "year"
    SCHOOL = "school"


class PublishIn(InputModel):
    scope: Scope
    class_id: uuid.UUID | None = None
    grade_level: YearGroup | None = None

    _NEEDS: ClassVar[dict[Scope, str]] = {Scope.CLASS: "class_id", Scope.YEAR: "grade_level"}

    @model_validator(mode="after")
    def _scope_target(self) -> PublishIn:
        for scope, name in self._NEEDS.items():
            given = getattr(self, name) is not None
            if given != (self.scope == scope):
                raise ValueError(f"`{name}` goes with scope '{scope.value}' and only with it.")
        return self


class PublishOut(OutputModel):
    term_id: uuid.UUID
    students: int
    published: int = Field(description="First versions.")
    updated: int = Field(description="New versions of reports that changed.")
    unchanged: int
    emails_queued: int
    class_comments_missing: int = Field(
        description="Class results in the scope's reports without a teacher's comment."
    )
    overall_comments_missing: int = Field(description="Reports in the scope without an overall comment.")


class ResultsQuery(InputModel):
    class_id: uuid.UUID | None = None
    grade_level: YearQuery | None = None


class CardsQuery(PageQuery, ResultsQuery):
    pass


class CardOut(OutputModel):
    id: uuid.UUID
    term_id: uuid.UUID
    term_name: str
    student_id: uuid.UUID
    student_name: str
    admission_number: str
    version: int
    published_at: datetime
    changes: list[str]
