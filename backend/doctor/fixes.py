"""Applying safe fixes: only while the switch allows, under the lock, after one fresh backup. Each
fix runs in a transaction where the database allows (PostgreSQL's CREATE INDEX CONCURRENTLY cannot),
one fresh scan afterwards judges them all, and each is recorded in `doctor_fixes` and the audit
trail. A fix that failed is not retried for an hour; the history of fixes is read back here too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from backend import audit, backups
from backend.backups import BackupError
from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.errors import DoctorError
from backend.doctor.issues import Issue, SafeFix
from backend.doctor.lock import exclusive
from backend.doctor.models import DoctorFix
from backend.doctor.schemas import FixOutcomeOut
from backend.doctor.service import scan_models
from backend.doctor.switch import require_fixing
from backend.tenancy import owner_access

log = structlog.get_logger("homeroom.doctor")
RETRY_AFTER = timedelta(hours=1)


def apply_fixes(
    settings: Settings,
    issue_ids: list[str] | None,
    *,
    trigger: str,
    actor: audit.Actor | None = None,
    only_tables: frozenset[str] | None = None,
) -> list[FixOutcomeOut]:
    """Fix the named issues (every fixable one if `issue_ids` is None), after one backup."""
    require_fixing(settings)
    with exclusive(db.engine):
        outcomes, ready = _triage(_fresh_scan(), issue_ids, only_tables)
        if not ready:
            return outcomes
        backup = _backup(settings)
        ran = [_run_fix(issue) for issue in ready]
        remaining = {issue.id for issue in _fresh_scan()}  # one fresh scan judges every fix
        outcomes += [_record_fix(fix, remaining, trigger, actor, backup) for fix in ran]
    return outcomes


def fix_history(limit: int = 50) -> list[DoctorFix]:
    return list(db.session.scalars(select(DoctorFix).order_by(DoctorFix.finished_at.desc()).limit(limit)))


def _fresh_scan() -> list[Issue]:
    with db.engine.connect() as connection:
        return scan_models(connection)


def _triage(
    issues: list[Issue], issue_ids: list[str] | None, only_tables: frozenset[str] | None
) -> tuple[list[FixOutcomeOut], list[Issue]]:
    """The wanted issues split into those skipped (with the reason) and those ready to fix."""
    found = {issue.id: issue for issue in issues}
    wanted = list(issue_ids) if issue_ids is not None else [i for i, issue in found.items() if issue.fixable]
    skipped: list[FixOutcomeOut] = []
    ready: list[Issue] = []
    for issue_id in wanted:
        reason = _why_not(issue_id, found.get(issue_id), only_tables)
        if reason is None:
            ready.append(found[issue_id])
        else:
            skipped.append(
                FixOutcomeOut(issue_id=issue_id, status="skipped", message=reason, backup_file=None)
            )
    return skipped, ready


def _why_not(issue_id: str, issue: Issue | None, only_tables: frozenset[str] | None) -> str | None:
    """Why the issue's fix is not run now, or None when it may run."""
    if issue is None:
        return "No such issue in a fresh scan (already fixed?)."
    if not issue.fixable:
        return "No safe fix: it needs review (see the draft)."
    if only_tables is not None and issue.table not in only_tables:
        return "Not a critical table: left for an operator."
    held = _held_until(issue_id)
    if held is not None:
        return f"Failed recently: not retried before {held:%H:%M} UTC."
    return None


def _held_until(issue_id: str) -> datetime | None:
    last = db.session.scalars(
        select(DoctorFix)
        .where(DoctorFix.issue_id == issue_id)
        .order_by(DoctorFix.finished_at.desc())
        .limit(1)
    ).first()
    if last is None or last.status != "failed" or last.finished_at < utcnow() - RETRY_AFTER:
        return None
    return last.finished_at + RETRY_AFTER


def _backup(settings: Settings) -> str:
    """A fresh backup's file name; no backup, no fix."""
    try:
        return backups.create(settings).name
    except BackupError as error:
        raise DoctorError(f"No fix without a fresh backup, and the backup failed: {error}") from None


def _execute(fix: SafeFix) -> None:
    with owner_access("doctor fix"):  # schema changes: the owner's, not the app role's
        _execute_statements(fix)


def _execute_statements(fix: SafeFix) -> None:
    if fix.transactional:
        with db.engine.begin() as connection:
            for statement in fix.statements:
                connection.exec_driver_sql(statement)
        return
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in fix.statements:
            connection.exec_driver_sql(statement)


@dataclass(frozen=True)
class _Ran:
    issue: Issue
    statements: list[str]
    started_at: datetime
    finished_at: datetime
    error: str | None


def _run_fix(issue: Issue) -> _Ran:
    assert issue.fix is not None
    started, error = utcnow(), None
    try:
        _execute(issue.fix)
    except SQLAlchemyError as failure:
        error = f"{type(failure).__name__}: {getattr(failure, 'orig', None) or failure}"
    return _Ran(issue, list(issue.fix.statements), started, utcnow(), error)


def _record_fix(
    ran: _Ran, remaining: set[str], trigger: str, actor: audit.Actor | None, backup: str
) -> FixOutcomeOut:
    """Record a fix that ran: resolved when it succeeded and the fresh scan no longer has the issue."""
    issue, error = ran.issue, ran.error
    resolved = error is None and issue.id not in remaining
    status: Literal["ok", "failed"] = "ok" if resolved else "failed"
    if error is None and not resolved:
        error = "The fix ran but a fresh scan still reports the issue."
    db.session.add(
        DoctorFix(
            id=uuid.uuid4(),
            issue_id=issue.id,
            trigger=trigger,
            actor_id=actor.user_id if actor else None,
            statements=ran.statements,
            status=status,
            error=error,
            backup_file=backup,
            resolved=resolved,
            started_at=ran.started_at,
            finished_at=ran.finished_at,
        )
    )
    audit.record(
        actor,
        "db.fix",
        resource_type="schema",
        resource_id=issue.id[:64],
        changes={"issue": issue.id, "sql": ran.statements, "status": status, "backup": backup},
    )
    db.session.commit()
    (log.info if resolved else log.error)("doctor_fix", issue=issue.id, status=status, trigger=trigger)
    message = "Fixed; a fresh scan no longer reports it." if resolved else (error or "failed")
    return FixOutcomeOut(issue_id=issue.id, status=status, message=message, backup_file=backup)
