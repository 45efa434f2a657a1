"""Recording attendance for a class, correcting it, and a student's record with its rate."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import false, func, or_, select

from backend import audit
from backend.attendance.alerts import sync_absence_alerts
from backend.attendance.models import ATTENDED, AttendanceRecord, AttendanceStatus
from backend.attendance.schemas import (
    AttendanceCorrectionIn,
    AttendanceEntry,
    AttendanceOut,
    AttendanceRangeQuery,
    AttendanceSummary,
    StudentAttendanceOut,
)
from backend.classes import Enrollment, SchoolClass, teaching, visible_class
from backend.core.db import retry_on_conflict
from backend.core.errors import Forbidden, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.core.pagination import keyset, page_of
from backend.students import visible_student
from backend.tenancy import AuthContext, Role, allowed

DEFAULT_RANGE = timedelta(days=30)


def _days_before(day: date, span: timedelta) -> date:
    """`day - span`, or the first day of the calendar when that would fall before it."""
    return day - span if day - date.min >= span else date.min


def _check_excuse(auth: AuthContext, statuses: Iterable[AttendanceStatus]) -> None:
    if AttendanceStatus.EXCUSED in statuses and not allowed(auth.role, "attendance.excuse"):
        raise Forbidden("Only an admin may mark attendance as excused.")


def _check_date(auth: AuthContext, on_date: date) -> None:
    if on_date > auth.today():
        raise ValidationFailed.on("query.date", "Attendance cannot be recorded for a future date.")


def class_attendance(auth: AuthContext, class_id: uuid.UUID, on_date: date) -> list[AttendanceRecord]:
    visible_class(auth, class_id)
    return list(
        db.session.scalars(
            auth.scoped(AttendanceRecord)
            .where(AttendanceRecord.class_id == class_id, AttendanceRecord.on_date == on_date)
            .order_by(AttendanceRecord.student_id)
        )
    )


@retry_on_conflict
def record_class(
    auth: AuthContext, class_id: uuid.UUID, on_date: date, entries: list[AttendanceEntry]
) -> list[AttendanceRecord]:
    """Set each listed student's attendance for the class and date. Idempotent: repeating the same
    request changes nothing; students not listed keep what they had."""
    visible_class(auth, class_id)
    _check_date(auth, on_date)
    _check_excuse(auth, (entry.status for entry in entries))
    wanted = {entry.student_id: entry for entry in entries}
    enrolled = set(
        db.session.scalars(
            select(Enrollment.student_id).where(
                Enrollment.class_id == class_id, Enrollment.student_id.in_(wanted)
            )
        )
    )
    strangers = [i for i, entry in enumerate(entries) if entry.student_id not in enrolled]
    if strangers:
        raise ValidationFailed(
            [
                {
                    "field": f"body.records.{i}.student_id",
                    "message": "Not enrolled in this class.",
                    "type": "not_enrolled",
                }
                for i in strangers
            ]
        )
    existing = {
        record.student_id: record
        for record in db.session.scalars(
            auth.scoped(AttendanceRecord).where(
                AttendanceRecord.class_id == class_id,
                AttendanceRecord.on_date == on_date,
                AttendanceRecord.student_id.in_(wanted),
            )
        )
    }
    changed: dict[str, str] = {}
    for student_id, entry in wanted.items():
        record = existing.get(student_id)
        if record is None:
            db.session.add(
                AttendanceRecord(
                    school_id=auth.school_id,
                    student_id=student_id,
                    class_id=class_id,
                    on_date=on_date,
                    status=entry.status.value,
                    reason=entry.reason,
                    recorded_by=auth.user_id,
                )
            )
        elif (record.status, record.reason) != (entry.status.value, entry.reason):
            record.status, record.reason, record.recorded_by = entry.status.value, entry.reason, auth.user_id
        else:
            continue
        changed[str(student_id)] = entry.status.value
    if changed:
        audit.record(
            auth,
            "attendance.record",
            resource_type="class",
            resource_id=class_id,
            changes={"date": on_date, "statuses": changed},
        )
        sync_absence_alerts(auth, (uuid.UUID(student) for student in changed), on_date)
    db.session.commit()
    return class_attendance(auth, class_id, on_date)


def correct_record(auth: AuthContext, record_id: uuid.UUID, data: AttendanceCorrectionIn) -> AttendanceRecord:
    """Change one record: admins any of the school's, teachers those of their classes."""
    own_class = AttendanceRecord.class_id.in_(
        select(SchoolClass.id).where(auth.owns(SchoolClass), teaching(auth))
    )
    daily = AttendanceRecord.class_id.is_(None) if auth.role == Role.ADMIN else false()
    record = db.session.scalar(
        auth.scoped(AttendanceRecord).where(AttendanceRecord.id == record_id, or_(own_class, daily))
    )
    if record is None:
        raise NotFound("Attendance record not found.")
    before = audit.snapshot(record, ("status", "reason"))
    if data.status is not None:
        _check_excuse(auth, [data.status, AttendanceStatus(record.status)])
        record.status = data.status.value
    elif record.status == AttendanceStatus.EXCUSED:
        _check_excuse(auth, [AttendanceStatus.EXCUSED])
    if "reason" in data.model_fields_set:
        record.reason = data.reason
    record.recorded_by = auth.user_id
    audit.record(
        auth,
        "attendance.correct",
        resource=record,
        resource_type="attendance_record",
        changes=audit.diff(before, audit.snapshot(record, ("status", "reason"))),
    )
    sync_absence_alerts(auth, [record.student_id], record.on_date)
    db.session.commit()
    return record


def attendance_rate(counts: dict[str, int]) -> float | None:
    """Attended (present, late, left early) over all records but excused ones; None when none count."""
    counted = sum(counts.values()) - counts.get(AttendanceStatus.EXCUSED, 0)
    attended = sum(counts.get(status, 0) for status in ATTENDED)
    return round(attended / counted, 4) if counted else None


def summarise(counts: dict[str, int], start: date, end: date) -> AttendanceSummary:
    per_status = {status.value: counts.get(status.value, 0) for status in AttendanceStatus}
    return AttendanceSummary(
        from_=start,
        to=end,
        present=per_status[AttendanceStatus.PRESENT],
        absent=per_status[AttendanceStatus.ABSENT],
        late=per_status[AttendanceStatus.LATE],
        excused=per_status[AttendanceStatus.EXCUSED],
        left_early=per_status[AttendanceStatus.LEFT_EARLY],
        total=sum(per_status.values()),
        attendance_rate=attendance_rate(per_status),
    )


def status_counts(auth: AuthContext, student_id: uuid.UUID, start: date, end: date) -> dict[str, int]:
    rows = db.session.execute(
        select(AttendanceRecord.status, func.count())
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.student_id == student_id,
            AttendanceRecord.on_date.between(start, end),
        )
        .group_by(AttendanceRecord.status)
    )
    return dict(rows.all())


def student_attendance(
    auth: AuthContext, student_id: uuid.UUID, query: AttendanceRangeQuery
) -> StudentAttendanceOut:
    """A page of the student's records in the range, in date order, and the summary of the range."""
    visible_student(auth, student_id)
    end = query.to or auth.today()
    start = query.from_ or _days_before(end, DEFAULT_RANGE)
    if start > end:
        raise ValidationFailed.on("query.from", "Must be on or before `to`.")
    statement = auth.scoped(AttendanceRecord).where(
        AttendanceRecord.student_id == student_id, AttendanceRecord.on_date.between(start, end)
    )
    order = (AttendanceRecord.on_date, AttendanceRecord.id)
    page = page_of(
        db.session.scalars(keyset(statement, order, query)).all(), query, lambda r: [r.on_date, r.id]
    )
    summary = summarise(status_counts(auth, student_id, start, end), start, end)
    return StudentAttendanceOut(
        items=[AttendanceOut.model_validate(record) for record in page.items],
        next_cursor=page.next_cursor,
        summary=summary,
    )
