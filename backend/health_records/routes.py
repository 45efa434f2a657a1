"""GET and PUT /api/students/{id}/health."""

from __future__ import annotations

import uuid

from backend.core.api import api
from backend.core.markers import writes
from backend.health_records import bp, service
from backend.health_records.schemas import HealthRecordIn, HealthRecordOut
from backend.health_records.service import HealthRecordView
from backend.tenancy import current_auth, requires


@bp.get("/students/<uuid:student_id>/health")
@requires("health.read")
@writes  # every read of a health record is audited
@api(response=HealthRecordOut)
def read_health(student_id: uuid.UUID) -> HealthRecordView:
    """A health record: whole for admins and permitted parents; allergies and alerts for teachers."""
    return service.read(current_auth(), student_id)


@bp.put("/students/<uuid:student_id>/health")
@requires("health.manage")
@api(body=HealthRecordIn, response=HealthRecordOut)
def write_health(student_id: uuid.UUID, body: HealthRecordIn) -> HealthRecordView:
    """Create or replace a student's health record."""
    return service.write(current_auth(), student_id, body)
