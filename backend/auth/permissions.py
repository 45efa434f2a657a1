"""Roles and the one table that says which role may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    PARENT = "parent"


EVERYONE = frozenset(Role)

# permission -> roles allowed. Object-level rules (a parent sees only linked children, a teacher
# only students in their classes) live in the services, next to the query.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "auth.self": EVERYONE,  # own profile, own sessions, own password
    "users.read": frozenset({Role.ADMIN}),
    "users.manage": frozenset({Role.ADMIN}),
}


def allowed(role: Role | str, permission: str) -> bool:
    """Whether `role` holds `permission`; an unknown permission is a programming error."""
    return Role(role) in PERMISSIONS[permission]
