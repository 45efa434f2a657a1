"""The health record in and out. Teachers get the allergies-and-alerts view only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from backend.core.validation import Hidden, InputModel, OutputModel

Short = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
BloodType = Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-", "unknown"]


class Allergy(InputModel):
    allergen: Annotated[Short, Hidden]
    severity: Annotated[Literal["mild", "moderate", "severe", "life_threatening"], Hidden]
    reaction: Line | None = Field(default=None, repr=False)
    response: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None,
        repr=False,
        description="What to do: for example, give the adrenaline auto-injector and call 999.",
    )


class Medication(InputModel):
    name: Annotated[Short, Hidden]
    dose: Short | None = Field(default=None, repr=False)
    schedule: Short | None = Field(default=None, repr=False)


class Physician(InputModel):
    name: Annotated[Short, Hidden]
    phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, repr=False
    )
    practice: Line | None = Field(default=None, repr=False)


class HealthRecordIn(InputModel):
    """Every value is health data: none of it shows in a repr."""

    blood_type: BloodType | None = Field(default=None, repr=False)
    allergies: list[Allergy] = Field(default_factory=list, max_length=50, repr=False)
    conditions: list[Line] = Field(default_factory=list, max_length=50, repr=False)
    medications: list[Medication] = Field(default_factory=list, max_length=50, repr=False)
    alerts: list[Line] = Field(
        default_factory=list, max_length=20, repr=False, description="Shown to teachers."
    )
    physician: Physician | None = Field(default=None, repr=False)
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = Field(default=None, repr=False)


class _HealthRecordBase(OutputModel):
    student_id: uuid.UUID
    allergies: list[Allergy]
    alerts: list[str]
    updated_at: datetime


class HealthAlertsOut(_HealthRecordBase):
    """The teachers' view: allergies and alerts only."""

    view: Literal["alerts"]


class FullHealthRecordOut(_HealthRecordBase):
    """The whole record: admins, and parents whose link allows it."""

    view: Literal["full"]
    blood_type: BloodType | None
    conditions: list[str]
    medications: list[Medication]
    physician: Physician | None
    notes: str | None


# `view` says which: `full` (admins, permitted parents) or `alerts` (teachers).
HealthRecordOut = Annotated[FullHealthRecordOut | HealthAlertsOut, Field(discriminator="view")]
