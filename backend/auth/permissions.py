"""Roles and the one table that says which role may do what."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    PARENT = "parent"
    # Runs the platform: belongs to no school and reaches only ops.* (and its own account).
    OPERATOR = "operator"


# The roles a school's users have, and the only ones an admin can give.
SchoolRole = Literal["admin", "teacher", "parent"]
SCHOOL_ROLES = frozenset({Role.ADMIN, Role.TEACHER, Role.PARENT})

EVERYONE = SCHOOL_ROLES  # everyone in a school; operators are in none
ADMIN = frozenset({Role.ADMIN})
STAFF = frozenset({Role.ADMIN, Role.TEACHER})
OPERATOR = frozenset({Role.OPERATOR})

# permission -> roles allowed. Object-level rules (a parent sees only linked children, a teacher
# only students in their classes) live in the services, next to the query.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "auth.self": SCHOOL_ROLES | OPERATOR,  # own profile, own sessions, own password
    "school.read": EVERYONE,  # the caller's own school and its settings
    "school.manage": ADMIN,
    "users.read": ADMIN,
    "users.manage": ADMIN,
    "students.read": EVERYONE,  # admins: the school; teachers: their classes; parents: their children
    "students.manage": ADMIN,
    "guardians.read": STAFF,
    "guardians.manage": ADMIN,
    "terms.read": EVERYONE,
    "terms.manage": ADMIN,
    "classes.read": STAFF,  # teachers: the classes they teach
    "classes.manage": ADMIN,
    "attendance.read": EVERYONE,  # a student's record, as students.read allows
    "attendance.record": STAFF,  # teachers: their classes; "excused" is for admins only
    "attendance.excuse": ADMIN,
    "grades.read": EVERYONE,  # parents see published assessments only
    "grades.record": STAFF,  # teachers: their classes
    "dashboard.parent": frozenset({Role.PARENT}),
    "audit.read": ADMIN,
    "fees.read": frozenset({Role.ADMIN, Role.PARENT}),  # parents: children they may see fees of
    "fees.manage": ADMIN,
    "health.read": EVERYONE,  # teachers: allergies and alerts; parents: only with can_view_health
    "health.manage": ADMIN,
    "reports.read": STAFF,  # attendance reports: teachers for their classes
    "imports.manage": ADMIN,  # CSV imports of students, classes, enrollments, guardians
    "exports.read": EVERYONE,  # each kind also needs its own read permission (fees.read for invoices)
    "assistant.use": EVERYONE,  # answers only from what the caller may see through the rules above
    "knowledge.read": EVERYONE,  # the school's FAQ and policies; staff-only entries for staff
    "knowledge.manage": ADMIN,
    "ops.read": OPERATOR,  # database health, backups, audit chains of every school
    "ops.manage": OPERATOR,  # scans, fixes, the fix switch, backups on demand
}


def allowed(role: Role | str, permission: str) -> bool:
    """Whether `role` holds `permission`; an unknown permission is a programming error."""
    return Role(role) in PERMISSIONS[permission]
