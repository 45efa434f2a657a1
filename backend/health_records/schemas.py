"""The health record in and out. Teachers get the allergies-and-alerts view only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from backend.core.validation import InputModel, OutputModel

Short = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
BloodType = Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-", "unknown"]


class Allergy(InputModel):
    allergen: Short
    severity: Literal["mild", "moderate", "severe", "life_threatening"]
    reaction: Line | None = None
    response: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="What to do: for example, give the adrenaline auto-injector and call 999."
    )


class Medication(InputModel):
    name: Short
    dose: Short | None = None
    schedule: Short | None = None


class Physician(InputModel):
    name: Short
    phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    practice: Line | None = None


class HealthRecordIn(InputModel):
    blood_type: BloodType | None = None
    allergies: list[Allergy] = Field(default_factory=list, max_length=50)
    conditions: list[Line] = Field(default_factory=list, max_length=50)
    medications: list[Medication] = Field(default_factory=list, max_length=50)
    alerts: list[Line] = Field(default_factory=list, max_length=20, description="Shown to teachers.")
    physician: Physician | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


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
