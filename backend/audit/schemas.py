"""Search filters and the event as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from backend.core.pagination import PageQuery
from backend.core.validation import OutputModel, Timestamp


class AuditQuery(PageQuery):
    actor_id: uuid.UUID | None = None
    action: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="An action (`student.update`) or a prefix ending in a dot (`auth.`)."
    )
    resource_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    resource_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    from_: Timestamp | None = Field(default=None, alias="from")
    to: Timestamp | None = None


class AuditEventOut(OutputModel):
    id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    request_id: str | None
    client_ip: str | None
    user_agent: str | None
    changes: dict[str, Any] | None
    hash: str
