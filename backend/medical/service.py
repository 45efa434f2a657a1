"""Health records: who may read what, and an audit event for every read and write.

Admins read and write everything; teachers of the student's classes read allergies and alerts;
parents whose link allows it read their child's whole record; nobody else reads anything.
Values never reach logs, errors or the audit trail: events name the fields, not their contents.
"""

from __future__ import annotations

import uuid
from typing import Any

from backend.audit import service as audit
from backend.auth.access import AuthContext, scoped
from backend.auth.permissions import Role
from backend.core.errors import Forbidden, NotFound
from backend.extensions import db
from backend.medical.models import HealthRecord
from backend.medical.schemas import HealthRecordIn
from backend.students.access import guardian_link, visible_student

FIELDS = ("blood_type", "allergies", "conditions", "medications", "alerts", "physician", "notes")


def _view(auth: AuthContext, student_id: uuid.UUID) -> str:
    """Which view of the record the caller gets; raises when none."""
    visible_student(auth, student_id)  # 404 for anyone who may not see the student at all
    if auth.role == Role.ADMIN:
        return "full"
    if auth.role == Role.TEACHER:
        return "alerts"
    link = guardian_link(auth, student_id)
    if link is None or not link.can_view_health:
        raise Forbidden("Your link to this student does not include health information.")
    return "full"


def _record(auth: AuthContext, student_id: uuid.UUID) -> HealthRecord | None:
    return db.session.scalar(scoped(HealthRecord).where(HealthRecord.student_id == student_id))


def read(auth: AuthContext, student_id: uuid.UUID) -> dict[str, Any]:
    view = _view(auth, student_id)
    record = _record(auth, student_id)
    if record is None:
        raise NotFound("No health record for this student.")
    shown = FIELDS if view == "full" else ("allergies", "alerts")
    audit.record(
        "health.view",
        resource=record,
        resource_type="health_record",
        changes={"student_id": student_id, "view": view, "fields": list(shown)},
    )
    db.session.commit()
    return {
        "student_id": student_id,
        "view": view,
        "updated_at": record.updated_at,
        **{name: getattr(record, name) for name in shown},
    }


def write(auth: AuthContext, student_id: uuid.UUID, data: HealthRecordIn) -> dict[str, Any]:
    """Create or replace the whole record (admins)."""
    visible_student(auth, student_id)
    values = data.model_dump(mode="json")
    record = _record(auth, student_id)
    if record is None:
        record = HealthRecord(
            school_id=auth.school_id, student_id=student_id, updated_by=auth.user_id, **values
        )
        db.session.add(record)
        changed = [name for name in FIELDS if values[name] not in (None, [])]
    else:
        changed = [name for name in FIELDS if getattr(record, name) != values[name]]
        for name in FIELDS:
            setattr(record, name, values[name])
        record.updated_by = auth.user_id
    audit.record(
        "health.update",
        resource=record,
        resource_type="health_record",
        changes={"student_id": student_id, "fields_changed": changed},
    )
    db.session.commit()
    return {"student_id": student_id, "view": "full", "updated_at": record.updated_at, **values}
