"""What the ops API and console show and do: every function takes the operator who asks, and
returns the API's own shape (`backend.ops.schemas`, or the doctor's `SwitchOut`), or an ORM row."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from backend import audit, backups, doctor, jobs, xero
from backend.audit import PLATFORM_CHAIN
from backend.backups import BackupError, local_backups
from backend.config import Settings
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor import DoctorScan, SwitchOut
from backend.ops.schemas import (
    AuditChainOut,
    AuditVerifyOut,
    BackupCreatedOut,
    BackupFileOut,
    BackupRunOut,
    BackupsOut,
    DbHealthOut,
    DeadJobOut,
    FixesOut,
    FixOut,
    IntegrationOut,
    JobsOut,
    ScanOut,
)
from backend.schools import School
from backend.tenancy import OperatorContext


def db_health(settings: Settings) -> DbHealthOut:
    scan = doctor.last_scan()
    last = ScanOut.model_validate(scan) if scan else None
    return DbHealthOut(
        status=last.status if last else "never_scanned",
        last_scan=last,
        drafts_dir=str(settings.db_doctor_drafts_dir),
        switch=doctor.switch_state(settings),
        fixes=[FixOut.model_validate(fix) for fix in doctor.fix_history()],
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


def fix(settings: Settings, operator: OperatorContext, issue_ids: list[str]) -> FixesOut:
    try:
        outcomes = doctor.apply_fixes(settings, issue_ids, trigger="api", actor=operator)
    except doctor.DoctorError as error:
        raise _conflict(error) from None
    return FixesOut(outcomes=outcomes, scan=ScanOut.model_validate(scan_now(settings)))


def set_switch(settings: Settings, operator: OperatorContext, enabled: bool) -> SwitchOut:
    return doctor.set_switch(settings, enabled, operator)


def backups_overview(settings: Settings) -> BackupsOut:
    newest = backups.last_good_backup_at()
    age = (utcnow() - newest).total_seconds() / 3600 if newest else None
    return BackupsOut(
        configured=settings.backup_dir is not None,
        last_success_at=newest,
        age_hours=round(age, 2) if age is not None else None,
        max_age_hours=settings.backup_max_age_hours,
        files=_backup_files(settings),
        runs=[BackupRunOut.model_validate(run) for run in backups.recent_runs(20)],
    )


def _backup_files(settings: Settings) -> list[BackupFileOut]:
    """The local backup files, newest first, each with when a drill last verified it."""
    if settings.backup_dir is None:
        return []
    found = local_backups(settings.backup_dir)
    runs = backups.runs_for([backup.name for backup in found])
    files: list[BackupFileOut] = []
    for backup in reversed(found):
        verified = [
            r.finished_at for r in runs.get(backup.name, []) if r.kind == "verify" and r.status == "ok"
        ]
        files.append(
            BackupFileOut(
                name=backup.name,
                bytes=backup.path.stat().st_size,
                created_at=backup.created_at,
                complete=backup.complete,
                last_verified_at=max(verified) if verified else None,
            )
        )
    return files


def start_backup(settings: Settings, operator: OperatorContext) -> BackupCreatedOut:
    try:
        backup = backups.create(settings)
    except BackupError as error:
        raise _conflict(error) from None
    manifest = backup.manifest()
    audit.record(operator, "backup.create", resource_type="backup", resource_id=backup.name[:64])
    db.session.commit()
    return BackupCreatedOut(
        name=backup.name,
        bytes=manifest.bytes,
        sha256=manifest.sha256,
        rows=sum(manifest.row_counts.values()),
        tables=len(manifest.row_counts),
    )


def audit_chains() -> AuditVerifyOut:
    names: dict[uuid.UUID, str] = dict(db.session.execute(select(School.id, School.name)).all())
    chains = []
    for chain_id in audit.chain_ids():
        checked, problem = audit.verify_chain(chain_id)
        school = None if chain_id == PLATFORM_CHAIN else chain_id
        chains.append(
            AuditChainOut(
                chain_id=chain_id,
                school_id=school,
                school_name=names.get(chain_id, "(platform)" if school is None else None),
                events=checked,
                status="ok" if problem is None else "broken",
                problem=None if problem is None else f"event {problem.seq}: {problem.reason}",
            )
        )
    broken = any(chain.status == "broken" for chain in chains)
    return AuditVerifyOut(status="broken" if broken else "ok", chains=chains)


# --- background jobs ------------------------------------------------------------------------------


def jobs_overview() -> JobsOut:
    return JobsOut(
        counts=jobs.counts(),
        dead=[DeadJobOut.model_validate(job) for job in jobs.dead_letters()],
        integrations=[IntegrationOut.model_validate(row) for row in xero.connections_overview()],
    )


def retry_job(operator: OperatorContext, job_id: uuid.UUID) -> DeadJobOut:
    """A dead job back in the queue, due now, its attempts counted afresh."""
    job = jobs.retry(job_id)
    audit.record(operator, "job.retry", resource=job, resource_type="job", changes={"kind": job.kind})
    db.session.commit()
    return DeadJobOut.model_validate(job)


def discard_job(operator: OperatorContext, job_id: uuid.UUID) -> DeadJobOut:
    job = jobs.discard(job_id)
    audit.record(operator, "job.discard", resource=job, resource_type="job", changes={"kind": job.kind})
    db.session.commit()
    return DeadJobOut.model_validate(job)
