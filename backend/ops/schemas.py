"""Shapes of the ops API: database health, fixes, the fix switch, backups, audit chains.

The fix switch's state and each fix's outcome are the doctor's own results (`SwitchOut`,
`FixOutcomeOut` from `backend.doctor`); the shapes here are built by `service` and declared by the
routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from backend.core.validation import InputModel, OutputModel
from backend.doctor import FixOutcomeOut, SwitchOut

IssueId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[a-z_]+:[A-Za-z0-9_.]*$")]


class IssueOut(OutputModel):
    id: str
    kind: str
    severity: Literal["critical", "warning", "info"]
    table: str | None
    message: str
    fixable: bool
    needs_review: bool
    fix_sql: list[str]
    details: dict[str, Any]


class ScanOut(OutputModel):
    id: uuid.UUID
    started_at: datetime
    finished_at: datetime
    trigger: str
    status: Literal["clean", "issues", "failed"]
    issues: list[IssueOut]
    draft: str | None = Field(description="The draft migration's name (GET .../drafts/{name}).")
    error: str | None


class FixOut(OutputModel):
    id: uuid.UUID
    issue_id: str
    trigger: str
    actor_id: uuid.UUID | None
    statements: list[str]
    status: str
    error: str | None
    backup_file: str | None
    resolved: bool
    started_at: datetime
    finished_at: datetime


class DbHealthOut(OutputModel):
    status: Literal["clean", "issues", "failed", "never_scanned"]
    last_scan: ScanOut | None
    drafts_dir: str
    switch: SwitchOut
    fixes: list[FixOut]


class FixesIn(InputModel):
    issue_ids: list[IssueId] = Field(min_length=1, max_length=50)


class FixesOut(OutputModel):
    outcomes: list[FixOutcomeOut]
    scan: ScanOut


class SwitchIn(InputModel):
    enabled: bool


class BackupFileOut(OutputModel):
    name: str
    bytes: int
    created_at: datetime
    complete: bool
    last_verified_at: datetime | None


class BackupRunOut(OutputModel):
    id: uuid.UUID
    kind: str
    status: str
    file: str | None
    bytes: int | None
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    error: str | None


class BackupsOut(OutputModel):
    configured: bool
    last_success_at: datetime | None
    age_hours: float | None
    max_age_hours: float
    files: list[BackupFileOut]
    runs: list[BackupRunOut]


class BackupCreatedOut(OutputModel):
    name: str
    bytes: int
    sha256: str
    rows: int
    tables: int


class AuditChainOut(OutputModel):
    chain_id: uuid.UUID
    school_id: uuid.UUID | None
    school_name: str | None
    events: int
    status: Literal["ok", "broken"]
    problem: str | None


class AuditVerifyOut(OutputModel):
    status: Literal["ok", "broken"]
    chains: list[AuditChainOut]


class DeadJobOut(OutputModel):
    id: uuid.UUID
    kind: str
    school_id: uuid.UUID | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class IntegrationOut(OutputModel):
    school: str
    school_id: uuid.UUID
    state: str
    organisation: str | None
    last_sync_at: datetime | None
    last_error: str | None


class JobsOut(OutputModel):
    counts: dict[str, dict[str, int]] = Field(
        description="Jobs needing attention: status -> kind -> how many."
    )
    dead: list[DeadJobOut] = Field(description="Dead letters, newest first: retry or discard each.")
    integrations: list[IntegrationOut] = Field(description="Every school's Xero connection.")
