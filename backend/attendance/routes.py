"""Attendance routes under /api/classes, /api/attendance and /api/students."""

from __future__ import annotations

import uuid

from backend.attendance import bp, service
from backend.attendance.models import AttendanceRecord
from backend.attendance.schemas import (
    AttendanceCorrectionIn,
    AttendanceDateQuery,
    AttendanceOut,
    AttendanceRangeQuery,
    BulkAttendanceIn,
    StudentAttendanceOut,
)
from backend.core.api import api
from backend.core.pagination import Items
from backend.tenancy import current_auth, requires


@bp.get("/classes/<uuid:class_id>/attendance")
@requires("attendance.record")
@api(query=AttendanceDateQuery, response=Items[AttendanceOut])
def class_attendance(class_id: uuid.UUID, query: AttendanceDateQuery) -> Items[AttendanceRecord]:
    """A class's attendance on a date."""
    return Items(service.class_attendance(current_auth(), class_id, query.date))


@bp.put("/classes/<uuid:class_id>/attendance")
@requires("attendance.record")
@api(query=AttendanceDateQuery, body=BulkAttendanceIn, response=Items[AttendanceOut])
def record_class_attendance(
    class_id: uuid.UUID, query: AttendanceDateQuery, body: BulkAttendanceIn
) -> Items[AttendanceRecord]:
    """Record a class's attendance for a date (idempotent; only admins may set "excused")."""
    return Items(service.record_class(current_auth(), class_id, query.date, body.records))


@bp.patch("/attendance/<uuid:record_id>")
@requires("attendance.record")
@api(body=AttendanceCorrectionIn, response=AttendanceOut)
def correct_attendance(record_id: uuid.UUID, body: AttendanceCorrectionIn) -> AttendanceRecord:
    """Correct one attendance record."""
    return service.correct_record(current_auth(), record_id, body)


@bp.get("/students/<uuid:student_id>/attendance")
@requires("attendance.read")
@api(query=AttendanceRangeQuery, response=StudentAttendanceOut)
def student_attendance(student_id: uuid.UUID, query: AttendanceRangeQuery) -> StudentAttendanceOut:
    """A student's attendance over a date range, with counts and the attendance rate."""
    return service.student_attendance(current_auth(), student_id, query)
