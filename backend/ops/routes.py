"""/api/ops/...: the platform operators' API (database health, fixes, backups, audit chains)."""

from __future__ import annotations

import uuid

from flask import Response

from backend.config import current_settings
from backend.core.api import api
from backend.core.markers import in_transaction, long_running
from backend.doctor import DoctorScan, SwitchOut
from backend.ops import bp, service
from backend.ops.schemas import (
    AuditVerifyOut,
    BackupCreatedOut,
    BackupsOut,
    DbHealthOut,
    DeadJobOut,
    FixesIn,
    FixesOut,
    JobsOut,
    ScanOut,
    SwitchIn,
)
from backend.tenancy import current_operator, requires


@bp.get("/db-health")
@requires("ops.read")
@api(response=DbHealthOut)
def db_health() -> DbHealthOut:
    """The last schema scan, the fix switch and the history of fixes."""
    return service.db_health(current_settings())


@bp.post("/db-health/scan")
@long_running
@requires("ops.manage")
@api(response=ScanOut, problems=(409,))
def scan() -> DoctorScan:
    """Scan the schema now (409 while another scan runs)."""
    return service.scan_now(current_settings())


@bp.post("/db-health/fixes")
@long_running
@requires("ops.manage")
@api(body=FixesIn, response=FixesOut, problems=(409,))
def fixes(body: FixesIn) -> FixesOut:
    """Apply the named safe fixes, after a backup; 409 when fixing is switched off."""
    return service.fix(current_settings(), current_operator(), body.issue_ids)


@bp.post("/db-health/autofix")
@requires("ops.manage")
@api(body=SwitchIn, response=SwitchOut)
def autofix(body: SwitchIn) -> SwitchOut:
    """Switch fixing on or off for every instance at once."""
    return service.set_switch(current_settings(), current_operator(), body.enabled)


@bp.get("/db-health/drafts/<name>")
@requires("ops.read")
@api(media_type="text/x-python", problems=(404,))
def draft(name: str) -> Response:
    """A draft migration the doctor wrote for issues it will not fix itself."""
    return Response(service.draft_text(current_settings(), name), mimetype="text/x-python")


@bp.get("/backups")
@requires("ops.read")
@api(response=BackupsOut)
def list_backups() -> BackupsOut:
    """Backup files, the last good backup's age and the latest runs."""
    return service.backups_overview(current_settings())


@bp.post("/backups")
@long_running
@requires("ops.manage")
@api(response=BackupCreatedOut, status=201, problems=(409,))
def create_backup() -> BackupCreatedOut:
    """Back up the database now (409 when backups are not configured or it fails)."""
    return service.start_backup(current_settings(), current_operator())


@bp.get("/audit/verify")
@long_running
@in_transaction  # chains are walked with a server-side cursor
@requires("ops.read")
@api(response=AuditVerifyOut)
def verify_audit() -> AuditVerifyOut:
    """Every audit chain (each school's and the platform's) walked and verified."""
    return service.audit_chains()


@bp.get("/jobs")
@requires("ops.read")
@api(response=JobsOut)
def jobs_overview() -> JobsOut:
    """Background jobs by status and kind, the dead letters, and every school's Xero connection."""
    return service.jobs_overview()


@bp.post("/jobs/<uuid:job_id>/retry")
@requires("ops.manage")
@api(response=DeadJobOut, problems=(404, 409))
def retry_job(job_id: uuid.UUID) -> DeadJobOut:
    """Put a dead job back in the queue, due now (409 unless it is dead)."""
    return service.retry_job(current_operator(), job_id)


@bp.post("/jobs/<uuid:job_id>/discard")
@requires("ops.manage")
@api(response=DeadJobOut, problems=(404, 409))
def discard_job(job_id: uuid.UUID) -> DeadJobOut:
    """Give up on a dead job for good (409 unless it is dead)."""
    return service.discard_job(current_operator(), job_id)
