"""GET and PUT /api/students/{id}/health."""

from __future__ import annotations

import uuid

from flask import Response

from backend.auth.access import current_auth, requires
from backend.core.api import api
from backend.core.responses import json_response
from backend.medical import bp, service
from backend.medical.schemas import HealthRecordIn, HealthRecordOut


def _out(record: dict[str, object]) -> Response:
    return json_response(HealthRecordOut.model_validate(record).model_dump(mode="json", exclude_unset=True))


@bp.get("/students/<uuid:student_id>/health")
@requires("health.read")
@api(response=HealthRecordOut)
def read_health(student_id: uuid.UUID) -> Response:
    """A health record: whole for admins and permitted parents; allergies and alerts for teachers."""
    return _out(service.read(current_auth(), student_id))


@bp.put("/students/<uuid:student_id>/health")
@requires("health.manage")
@api(body=HealthRecordIn, response=HealthRecordOut)
def write_health(student_id: uuid.UUID, body: HealthRecordIn) -> Response:
    """Create or replace a student's health record."""
    return _out(service.write(current_auth(), student_id, body))
