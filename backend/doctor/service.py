"""Running a scan as the CLI, the watcher and the ops API do: under the lock, with a draft for what
needs review, recorded in `doctor_scans` (a database without the doctor's tables is still scanned);
and the records read back: the last scan and its open issues by severity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.drafts import write_draft
from backend.doctor.errors import DoctorBusy, DoctorError
from backend.doctor.issues import Issue, needing_attention, severity_counts
from backend.doctor.lock import exclusive
from backend.doctor.models import DoctorScan
from backend.doctor.scan import scan

log = structlog.get_logger("homeroom.doctor")


@dataclass(frozen=True)
class ScanResult:
    scan_id: uuid.UUID
    issues: list[Issue]
    draft: Path | None  # the draft revision written for the issues that need review

    @property
    def status(self) -> str:
        return "issues" if self.problems else "clean"

    @property
    def problems(self) -> list[Issue]:
        return needing_attention(self.issues)


def scan_models(connection: Connection) -> list[Issue]:
    """The database behind `connection` against every model."""
    # db.metadata holds every table: the app factory imports every model module (backend/models.py).
    return scan(connection, db.metadata)


def run_scan(settings: Settings, trigger: str) -> ScanResult:
    """Scan (under the lock), write a draft for what needs review, record the scan."""
    started = utcnow()
    try:
        with exclusive(db.engine), db.engine.connect() as connection:
            issues = scan_models(connection)
            draft = write_draft(settings, connection, issues)
    except DoctorBusy:
        raise
    except SQLAlchemyError as error:
        _record_scan(started, trigger, "failed", [], None, f"{type(error).__name__}")
        raise DoctorError(
            f"Could not scan the database: {type(error).__name__}: {getattr(error, 'orig', None) or error}"
        ) from None
    problems = len(needing_attention(issues))
    scan_id = _record_scan(
        started, trigger, "issues" if problems else "clean", issues, draft.name if draft else None, None
    )
    log.info("doctor_scan", trigger=trigger, issues=len(issues), problems=problems)
    return ScanResult(scan_id, issues, draft)


def _record_scan(
    started: datetime, trigger: str, status: str, issues: list[Issue], draft: str | None, error: str | None
) -> uuid.UUID:
    row = DoctorScan(
        id=uuid.uuid4(),
        started_at=started,
        finished_at=utcnow(),
        trigger=trigger,
        status=status,
        issues=[issue.as_dict() for issue in issues],
        draft=draft,
        error=error,
    )
    try:
        db.session.add(row)
        db.session.commit()
    except SQLAlchemyError:  # a database without the doctor's tables (not migrated) is still scanned
        db.session.rollback()
        log.warning("doctor_scan_not_recorded")
    return row.id


def last_scan() -> DoctorScan | None:
    return db.session.scalars(select(DoctorScan).order_by(DoctorScan.started_at.desc()).limit(1)).first()


def open_issue_counts() -> dict[str, int]:
    """The last recorded scan's issues by severity (none before the first scan)."""
    latest = last_scan()
    return severity_counts(issue["severity"] for issue in (latest.issues if latest else []))
