"""Request and response bodies for /api/me/notifications and unsubscribing."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from backend.core.validation import Hidden, InputModel, OutputModel, PatchModel


class NotificationsOut(OutputModel):
    absence_alert: bool = Field(
        description="An email when your child is marked absent (or late, if the school says)."
    )
    fee_reminder: bool = Field(description="Emails about invoices coming due and overdue.")
    report_card: bool = Field(description="An email when your child's term report is published or updated.")
    urgent_announcement: bool = Field(
        description="An email with each urgent announcement to you (on by default)."
    )
    announcement: bool = Field(
        description="An email with every other announcement to you too (off by default)."
    )


class NotificationsIn(PatchModel):
    absence_alert: bool | None = None
    fee_reminder: bool | None = None
    report_card: bool | None = None
    urgent_announcement: bool | None = None
    announcement: bool | None = None


class UnsubscribeQuery(InputModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=500), Hidden]


class UnsubscribedOut(OutputModel):
    kind: str
    enabled: bool
