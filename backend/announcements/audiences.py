"""Who may address whom, and an audience resolved into its recipients in one statement.

Admins address the whole school, its staff, its parents, a class, a year group or the guardians of
chosen students; teachers address their own classes (a class they teach, or chosen students they
teach). Class, year group and chosen students reach the guardians of the active students among
them; each person is a recipient once, whatever the number of their children."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, Uuid, func, insert, literal, select

from backend.announcements.models import Announcement, AnnouncementAudience, Recipient
from backend.announcements.schemas import Targets
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, visible_class
from backend.core.errors import Forbidden, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.students import GuardianLink, Student, StudentStatus, visible_students
from backend.tenancy import AuthContext, Role

TEACHERS_MAY = frozenset({AnnouncementAudience.CLASS, AnnouncementAudience.STUDENTS})
ROLES = {
    AnnouncementAudience.SCHOOL: (Role.ADMIN, Role.TEACHER, Role.PARENT),
    AnnouncementAudience.STAFF: (Role.ADMIN, Role.TEACHER),
    AnnouncementAudience.PARENTS: (Role.PARENT,),
}


def check(auth: AuthContext, targets: Targets) -> None:
    """The caller may address this audience, and what it names is theirs to address."""
    if auth.role != Role.ADMIN and targets.audience not in TEACHERS_MAY:
        raise Forbidden("Teachers write to their own classes: a class, or chosen students of it.")
    if targets.class_id is not None:
        try:
            visible_class(auth, targets.class_id)
        except NotFound:  # not the caller's to address: said on the field
            raise ValidationFailed.on("body.class_id", "Not one of your classes.") from None
    if targets.student_ids is not None:
        found = db.session.scalar(
            select(func.count())
            .select_from(Student)
            .where(auth.owns(Student), Student.id.in_(targets.student_ids), visible_students(auth))
        )
        if found != len(targets.student_ids):
            raise ValidationFailed.on("body.student_ids", "Not all of these are your students.")


def students_of(announcement: Announcement) -> Select[uuid.UUID] | None:
    """The active students a class, year or students audience is about (None: it names none)."""
    if announcement.audience == AnnouncementAudience.CLASS and announcement.class_id is not None:
        return class_students(announcement.school_id, announcement.class_id)
    students = select(Student.id).where(
        Student.school_id == announcement.school_id, Student.status == StudentStatus.ACTIVE.value
    )
    if announcement.audience == AnnouncementAudience.YEAR:
        return students.where(Student.grade_level == announcement.grade_level)
    if announcement.audience == AnnouncementAudience.STUDENTS:
        return students.where(Student.id.in_([uuid.UUID(i) for i in announcement.student_ids or []]))
    return None


def members(announcement: Announcement) -> Select[uuid.UUID]:
    """The ids of the active users the announcement is for, each once."""
    users = select(User.id).where(User.school_id == announcement.school_id, User.is_active.is_(True))
    students = students_of(announcement)
    if students is None:
        return users.where(
            User.role.in_([role.value for role in ROLES[AnnouncementAudience(announcement.audience)]])
        )
    guardians = select(GuardianLink.user_id).where(
        GuardianLink.school_id == announcement.school_id, GuardianLink.student_id.in_(students)
    )
    return users.where(User.id.in_(guardians))


def resolve(announcement: Announcement) -> int:
    """Write the recipients (one INSERT ... SELECT, whatever their number); how many."""
    chosen = members(announcement).subquery()
    statement = insert(Recipient).from_select(
        ["announcement_id", "school_id", "user_id"],
        select(literal(announcement.id, Uuid()), literal(announcement.school_id, Uuid()), chosen.c.id),
    )
    done = db.session.execute(statement, execution_options={"preserve_rowcount": True})  # psycopg: else -1
    return int(done.rowcount or 0)  # type: ignore[attr-defined]  # DML


def class_students(school_id: uuid.UUID, class_id: uuid.UUID) -> Select[uuid.UUID]:
    """The class's active students."""
    return (
        select(Enrollment.student_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(
            Enrollment.class_id == class_id,
            SchoolClass.school_id == school_id,
            Student.status == StudentStatus.ACTIVE.value,
        )
    )


def in_class(school_id: uuid.UUID, class_id: uuid.UUID) -> Select[uuid.UUID]:
    """The users who are guardians of the class's active students (a receipt's narrowing)."""
    return select(GuardianLink.user_id).where(
        GuardianLink.school_id == school_id,
        GuardianLink.student_id.in_(class_students(school_id, class_id)),
    )
