"""Request and response bodies for /api/school."""

from __future__ import annotations

import uuid

from backend.core.validation import OutputModel, PatchModel


class SchoolSettingsOut(OutputModel):
    id: uuid.UUID
    name: str
    slug: str
    timezone: str
    currency: str
    alert_on_late: bool


class SchoolSettingsIn(PatchModel):
    alert_on_late: bool | None = None
