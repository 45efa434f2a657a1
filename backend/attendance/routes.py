"""Attendance routes under /api/classes, /api/attendance and /api/students."""

from __future__ import annotations

import uuid

from flask import Response

from backend.attendance import bp, service
from backend.attendance.schemas import (
    AttendanceCorrectionIn,
    AttendanceDateQuery,
    AttendanceOut,
    AttendanceRangeQuery,
    AttendanceSummary,
    BulkAttendanceIn,
    StudentAttendanceOut,
)
from backend.auth.access import current_auth, requires
from backend.core.api import Items, api
from backend.core.responses import dump_all, items_response, json_response


@bp.get("/classes/<uuid:class_id>/attendance")
@requires("attendance.record")
@api(query=AttendanceDateQuery, response=Items[AttendanceOut])
def class_attendance(class_id: uuid.UUID, query: AttendanceDateQuery) -> Response:
    """A class's attendance on a date."""
    return items_response(service.class_attendance(current_auth(), class_id, query.date), AttendanceOut)


@bp.put("/classes/<uuid:class_id>/attendance")
@requires("attendance.record")
@api(query=AttendanceDateQuery, body=BulkAttendanceIn, response=Items[AttendanceOut])
def record_class_attendance(
    class_id: uuid.UUID, query: AttendanceDateQuery, body: BulkAttendanceIn
) -> Response:
    """Record a class's attendance for a date (idempotent; only admins may set "excused")."""
    records = service.record_class(current_auth(), class_id, query.date, body.records)
    return items_response(records, AttendanceOut)


@bp.patch("/attendance/<uuid:record_id>")
@requires("attendance.record")
@api(body=AttendanceCorrectionIn, response=AttendanceOut)
def correct_attendance(record_id: uuid.UUID, body: AttendanceCorrectionIn) -> Response:
    """Correct one attendance record."""
    record = service.correct_record(current_auth(), record_id, body)
    return json_response(AttendanceOut.model_validate(record))


@bp.get("/students/<uuid:student_id>/attendance")
@requires("attendance.read")
@api(query=AttendanceRangeQuery, response=StudentAttendanceOut)
def student_attendance(student_id: uuid.UUID, query: AttendanceRangeQuery) -> Response:
    """A student's attendance over a date range, with counts and the attendance rate."""
    items, next_cursor, summary = service.student_attendance(current_auth(), student_id, query)
    return json_response(
        {
            "items": dump_all(items, AttendanceOut),
            "next_cursor": next_cursor,
            "summary": AttendanceSummary.model_validate(summary).model_dump(mode="json", by_alias=True),
        }
    )
