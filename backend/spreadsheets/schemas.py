"""Query strings and the import report for /api/imports and /api/exports."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from backend.core.validation import InputModel, IsoDate, OutputModel


class ImportQuery(InputModel):
    dry_run: bool = Field(default=False, description="Check every row and report; write nothing.")
    invite: bool = Field(
        default=False, description="Guardians: email an invitation to each new parent account."
    )


class ExportQuery(InputModel):
    from_: IsoDate | None = Field(default=None, alias="from", description="Attendance: from this day.")
    to: IsoDate | None = Field(default=None, description="Attendance: up to this day.")
    class_id: uuid.UUID | None = Field(default=None, description="Attendance and grades: one class.")
    term_id: uuid.UUID | None = Field(default=None, description="Grades: one term.")


class RowErrorOut(OutputModel):
    row: int = Field(description="The spreadsheet row: 1 is the header line.")
    column: str | None
    message: str


class ImportReportOut(OutputModel):
    kind: Literal["students", "classes", "enrollments", "guardians"]
    dry_run: bool
    applied: bool
    rows: int
    create: int
    update: int
    unchanged: int
    checksum: str
    errors: list[RowErrorOut]
