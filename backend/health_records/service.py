"""Health records: who may read what, and an audit event for every read and write.

Admins read and write everything; teachers of the student's classes read allergies and alerts;
parents whose link allows it read their child's whole record; nobody else reads anything.
Values never reach logs, errors or the audit trail: events name the fields, not their contents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from backend import audit
from backend.core.db import retry_on_conflict
from backend.core.errors import Forbidden, NotFound
from backend.core.extensions import db
from backend.health_records.models import HealthRecord
from backend.health_records.schemas import HealthRecordIn
from backend.students import Student, guardian_link, visible_student, visible_students
from backend.tenancy import AuthContext, Role

FIELDS = ("blood_type", "allergies", "conditions", "medications", "alerts", "physician", "notes")
ALERT_FIELDS = ("allergies", "alerts")
View = Literal["full", "alerts"]


@dataclass(frozen=True)
class HealthRecordView:
    """A record as one caller may see it: an `alerts` view carries allergies and alerts only."""

    student_id: uuid.UUID
    view: View
    updated_at: datetime
    allergies: list[dict[str, Any]]
    alerts: list[str]
    blood_type: str | None = None
    conditions: list[str] | None = None
    medications: list[dict[str, Any]] | None = None
    physician: dict[str, Any] | None = None
    notes: str | None = None


def _view(auth: AuthContext, student_id: uuid.UUID) -> View:
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
    return db.session.scalar(auth.scoped(HealthRecord).where(HealthRecord.student_id == student_id))


def _shown(record: HealthRecord, view: View) -> HealthRecordView:
    shown = FIELDS if view == "full" else ALERT_FIELDS
    values = {name: getattr(record, name) for name in shown}
    return HealthRecordView(student_id=record.student_id, view=view, updated_at=record.updated_at, **values)


def read(auth: AuthContext, student_id: uuid.UUID) -> HealthRecordView:
    view = _view(auth, student_id)
    record = _record(auth, student_id)
    if record is None:
        raise NotFound("No health record for this student.")
    audit.record(
        auth,
        "health.view",
        resource=record,
        resource_type="health_record",
        changes={
            "student_id": student_id,
            "view": view,
            "fields": list(FIELDS if view == "full" else ALERT_FIELDS),
        },
    )
    db.session.commit()
    return _shown(record, view)


def read_alerts(auth: AuthContext, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, HealthRecordView]:
    """Staff: the allergies-and-alerts view of several students' records in one query (those the
    caller may see and that have a record), each read audited as a view like `read`'s."""
    if auth.role not in (Role.ADMIN, Role.TEACHER):
        raise Forbidden("Only staff read several health records at once.")
    visible = auth.scoped(Student).where(visible_students(auth), Student.id.in_(student_ids))
    records = db.session.scalars(
        auth.scoped(HealthRecord).where(HealthRecord.student_id.in_(visible.with_only_columns(Student.id)))
    ).all()
    for record in records:
        audit.record(
            auth,
            "health.view",
            resource=record,
            resource_type="health_record",
            changes={"student_id": record.student_id, "view": "alerts", "fields": list(ALERT_FIELDS)},
        )
    db.session.commit()
    return {record.student_id: _shown(record, "alerts") for record in records}


@retry_on_conflict
def write(auth: AuthContext, student_id: uuid.UUID, data: HealthRecordIn) -> HealthRecordView:
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
        auth,
        "health.update",
        resource=record,
        resource_type="health_record",
        changes={"student_id": student_id, "fields_changed": changed},
    )
    db.session.commit()
    return _shown(record, "full")
