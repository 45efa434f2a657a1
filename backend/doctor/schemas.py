"""The doctor's results that the ops API serves as they are: the fix switch's state and each fix's
outcome. The service returns these models and the API declares them, so each result has one shape
(the served document names them `SwitchOut` and `FixOutcomeOut`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from backend.core.validation import OutputModel


class SwitchOut(OutputModel):
    fixes_enabled: bool = Field(
        description="Fixes may run: the setting and the runtime switch both allow it."
    )
    by_setting: bool = Field(description="DB_DOCTOR_AUTOFIX")
    by_switch: bool = Field(description="The runtime switch shared by every instance.")
    changed_at: datetime | None
    changed_by: uuid.UUID | None


class FixOutcomeOut(OutputModel):
    issue_id: str
    status: Literal["ok", "failed", "skipped"]
    message: str
    backup_file: str | None
