"""What the ops API and console show and do: every function takes the operator who asks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backend import audit, backups, doctor
from backend.audit import PLATFORM_CHAIN
from backend.backups import BackupError, BackupRun, local_backups
from backend.config import Settings
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor import DoctorFix, DoctorScan
from backend.schools import School
from backend.tenancy import OperatorContext


@dataclass(frozen=True)
class DbHealth:
    status: str
    last_scan: DoctorScan | None
    drafts_dir: str
    switch: doctor.SwitchState
    fixes: list[DoctorFix]


def db_health(settings: Settings) -> DbHealth:
    scan = doctor.last_scan()
    return DbHealth(
        scan.status if scan else "never_scanned",
        scan,
        str(settings.db_doctor_drafts_dir),
        doctor.switch_state(settings),
        doctor.fix_history(),
    )


def _conflict(error: doctor.DoctorError | BackupError) -> Conflict:
    return Conflict(str(error))


def scan_now(settings: Settings) -> DoctorScan:
    try:
        result = doctor.run_scan(settings, "api")
    except doctor.DoctorError as error:
        raise _conflict(error) from None
    return db.session.get_one(DoctorScan, result.scan_id)


def draft_text(settings: Settings, name: str) -> str:
    try:
        return doctor.read_draft(settings, name)
    except doctor.DoctorError as error:
        raise NotFound(str(error)) from None


@dataclass(frozen=True)
class FixesDone:
    outcomes: list[doctor.FixOutcome]
    scan: DoctorScan


def fix(settings: Settings, operator: OperatorContext, issue_ids: list[str]) -> FixesDone:
    try:
        outcomes = doctor.apply_fixes(settings, issue_ids, trigger="api", actor=operator)
    except doctor.DoctorError as error:
        raise _conflict(error) from None
    return FixesDone(outcomes, scan_now(settings))


def set_switch(settings: Settings, operator: OperatorContext, enabled: bool) -> doctor.SwitchState:
    return doctor.set_switch(settings, enabled, operator)


@dataclass(frozen=True)
class BackupFile:
    name: str
    bytes: int
    created_at: datetime
    complete: bool
    last_verified_at: datetime | None


@dataclass(frozen=True)
class Backups:
    configured: bool
    last_success_at: datetime | None
    age_hours: float | None
    max_age_hours: float
    files: list[BackupFile]
    runs: list[BackupRun]


def backups_overview(settings: Settings) -> Backups:
    newest = backups.last_good_backup_at()
    files: list[BackupFile] = []
    if settings.backup_dir is not None:
        found = local_backups(settings.backup_dir)
        runs = backups.runs_for([backup.name for backup in found])
        for backup in reversed(found):
            verified = [
                r.finished_at for r in runs.get(backup.name, []) if r.kind == "verify" and r.status == "ok"
            ]
            files.append(
                BackupFile(
                    backup.name,
                    backup.path.stat().st_size,
                    backup.created_at,
                    backup.complete,
                    max(verified) if verified else None,
                )
            )
    age = (utcnow() - newest).total_seconds() / 3600 if newest else None
    return Backups(
        settings.backup_dir is not None,
        newest,
        round(age, 2) if age is not None else None,
        settings.backup_max_age_hours,
        files,
        backups.recent_runs(20),
    )


@dataclass(frozen=True)
class BackupCreated:
    name: str
    bytes: int
    sha256: str
    rows: int
    tables: int


def start_backup(settings: Settings, operator: OperatorContext) -> BackupCreated:
    try:
        backup = backups.create(settings)
    except BackupError as error:
        raise _conflict(error) from None
    manifest = backup.manifest()
    audit.record(operator, "backup.create", resource_type="backup", resource_id=backup.name[:64])
    db.session.commit()
    return BackupCreated(
        backup.name,
        manifest.bytes,
        manifest.sha256,
        sum(manifest.row_counts.values()),
        len(manifest.row_counts),
    )


@dataclass(frozen=True)
class ChainStatus:
    chain_id: uuid.UUID
    school_id: uuid.UUID | None
    school_name: str | None
    events: int
    status: str
    problem: str | None


def audit_chains() -> dict[str, Any]:
    names: dict[uuid.UUID, str] = dict(db.session.execute(select(School.id, School.name)).all())
    chains = []
    for chain_id in audit.chain_ids():
        checked, problem = audit.verify_chain(chain_id)
        school = None if chain_id == PLATFORM_CHAIN else chain_id
        chains.append(
            ChainStatus(
                chain_id,
                school,
                names.get(chain_id, "(platform)" if school is None else None),
                checked,
                "ok" if problem is None else "broken",
                None if problem is None else f"event {problem.seq}: {problem.reason}",
            )
        )
    broken = any(chain.status == "broken" for chain in chains)
    return {"status": "broken" if broken else "ok", "chains": chains}
