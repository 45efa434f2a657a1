"""Same-day absence alerts: when a student is first marked absent (or late, where the school
asks for it) today, each guardian who receives absence alerts gets one email for that student
and day, queued with the mark. A correction before the email goes out withdraws it; a second
mark, or a correction and a new absence, never sends another (one key per guardian, student, day).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import select

from backend import mail
from backend.attendance.models import AttendanceRecord, AttendanceStatus
from backend.auth import User
from backend.classes import SchoolClass
from backend.config import current_settings
from backend.core.extensions import db
from backend.mail import MailKind
from backend.notifications import opted_in
from backend.schools import School
from backend.students import GuardianLink, Student
from backend.tenancy import AuthContext


def _key(student_id: uuid.UUID, on_date: date, user_id: uuid.UUID) -> str:
    return f"absence_alert:{student_id}:{on_date.isoformat()}:{user_id}"


def _alerting_marks(
    auth: AuthContext, students: set[uuid.UUID], on_date: date, statuses: set[str]
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Each student's first alerting mark of the day (status, class name), after this change."""
    db.session.flush()
    rows = db.session.execute(
        select(AttendanceRecord.student_id, AttendanceRecord.status, SchoolClass.name)
        .outerjoin(SchoolClass, SchoolClass.id == AttendanceRecord.class_id)
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.student_id.in_(students),
            AttendanceRecord.on_date == on_date,
            AttendanceRecord.status.in_(statuses),
        )
        .order_by(AttendanceRecord.created_at)
    )
    marks: dict[uuid.UUID, tuple[str, str | None]] = {}
    for student_id, status, class_name in rows:
        marks.setdefault(student_id, (status, class_name))
    return marks


def sync_absence_alerts(auth: AuthContext, student_ids: Iterable[uuid.UUID], on_date: date) -> None:
    """Queue or withdraw the alerts for these students' day, in the caller's transaction."""
    students = set(student_ids)
    if on_date != auth.today() or not students:
        return  # alerts are for today; a register taken later, or corrected, sends nothing
    school = db.session.get_one(School, auth.school_id)
    statuses = {AttendanceStatus.ABSENT.value} | (
        {AttendanceStatus.LATE.value} if school.alert_on_late else set()
    )
    marks = _alerting_marks(auth, students, on_date, statuses)
    guardians = db.session.execute(
        select(
            GuardianLink.student_id,
            Student.first_name,
            Student.last_name,
            User.id,
            User.email,
            User.full_name,
        )
        .join(Student, Student.id == GuardianLink.student_id)
        .join(User, User.id == GuardianLink.user_id)
        .where(auth.owns(GuardianLink), GuardianLink.student_id.in_(students), User.is_active.is_(True))
    ).all()
    receiving = opted_in((g.id for g in guardians), MailKind.ABSENCE_ALERT)
    withdrawn, letters = [], []
    for student_id, first, last, user_id, email, full_name in guardians:
        key = _key(student_id, on_date, user_id)
        if student_id not in marks:
            withdrawn.append(key)
            continue
        if user_id not in receiving:
            continue
        status, class_name = marks[student_id]
        context = {
            "school": school.name,
            "full_name": full_name,
            "student": f"{first} {last}",
            "status": status.replace("_", " "),
            "day": on_date,
            "class_name": class_name,
        }
        letters.append(mail.Letter(key, mail.Recipient(email, user_id), context))
    mail.queue_emails(current_settings(), MailKind.ABSENCE_ALERT, auth.school_id, letters)
    mail.cancel(withdrawn)
