"""Schools and users: creation, listing within a school, changes, deactivation."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import exists, or_, select

from backend.audit import service as audit
from backend.auth.access import AuthContext, forget_sessions, get_scoped, scoped
from backend.auth.models import AuthSession, School, User
from backend.auth.passwords import policy_problem
from backend.auth.permissions import Role
from backend.auth.schemas import UserCreateIn, UserListQuery, UserUpdateIn
from backend.auth.service import passwords, revoke_user_sessions
from backend.core.errors import Conflict, ValidationFailed
from backend.core.pagination import keyset, page_of
from backend.extensions import db

USER_FIELDS = ("email", "full_name", "role", "is_active")
SCHOOL_FIELDS = ("name", "slug", "timezone", "currency")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
CURRENCY = re.compile(r"[A-Z]{3}")


def create_school(name: str, slug: str, timezone: str, currency: str) -> School:
    if not SLUG.fullmatch(slug):
        raise ValidationFailed.on("slug", "Use lower-case letters, digits and hyphens (at most 63).")
    if timezone not in available_timezones():
        raise ValidationFailed.on("timezone", "Not an IANA time zone, such as Europe/London.")
    if not CURRENCY.fullmatch(currency):
        raise ValidationFailed.on("currency", "Use an ISO 4217 code, such as GBP.")
    if db.session.scalar(select(exists().where(School.slug == slug))):
        raise Conflict(f"A school with slug {slug!r} already exists.")
    school = School(name=name.strip(), slug=slug, timezone=timezone, currency=currency)
    db.session.add(school)
    db.session.flush()
    audit.start_chain(school.id)
    audit.record(
        "school.create",
        resource=school,
        resource_type="school",
        school_id=school.id,
        changes=audit.snapshot(school, SCHOOL_FIELDS),
    )
    db.session.commit()
    return school


def school_today(school_id: uuid.UUID) -> date:
    """Today's date where the school is: "today", "overdue" and "this term" are judged there."""
    timezone = db.session.scalar(select(School.timezone).where(School.id == school_id))
    return datetime.now(ZoneInfo(timezone or "UTC")).date()


def create_user(school_id: uuid.UUID, data: UserCreateIn) -> User:
    """A new user of `school_id`; the email must be free in every school (sign-in is by email)."""
    problem = policy_problem(data.password)
    if problem:
        raise ValidationFailed.on("body.password", problem, "password_policy")
    if db.session.scalar(select(exists().where(User.email == data.email))):
        raise Conflict("A user with this email already exists.")
    user = User(
        school_id=school_id,
        email=data.email,
        full_name=data.full_name.strip(),
        role=data.role.value,
        password_hash=passwords().hash(data.password),
        is_active=True,
    )
    db.session.add(user)
    audit.record(
        "user.create",
        resource=user,
        resource_type="user",
        school_id=school_id,
        changes=audit.snapshot(user, USER_FIELDS),
    )
    db.session.commit()
    return user


def list_users(query: UserListQuery) -> tuple[list[User], str | None]:
    statement = scoped(User)
    if query.role is not None:
        statement = statement.where(User.role == query.role.value)
    if query.is_active is not None:
        statement = statement.where(User.is_active.is_(query.is_active))
    if query.q:
        pattern = f"%{query.q.lower()}%"
        statement = statement.where(or_(User.email.like(pattern), User.full_name.ilike(pattern)))
    rows = db.session.scalars(keyset(statement, [User.email], query)).all()
    return page_of(rows, query, lambda user: [user.email])


def get_user(user_id: uuid.UUID) -> User:
    return get_scoped(User, user_id, "User")


def update_user(auth: AuthContext, user_id: uuid.UUID, data: UserUpdateIn) -> User:
    """Rename, change role, (de)activate. Deactivation ends every session of the user at once."""
    user = get_user(user_id)
    if user.id == auth.user_id and (data.is_active is False or data.role not in (None, Role.ADMIN)):
        raise Conflict("You cannot deactivate or demote your own account.")
    stale: list[uuid.UUID] = []
    before = audit.snapshot(user, USER_FIELDS)
    if data.full_name is not None:
        user.full_name = data.full_name.strip()
    if data.role is not None and data.role.value != user.role:
        user.role = data.role.value
        # Cached session state carries the role: drop it so the new role applies at once.
        stale += db.session.scalars(select(AuthSession.id).where(AuthSession.user_id == user.id))
    if data.is_active is not None and data.is_active != user.is_active:
        user.is_active = data.is_active
        if not data.is_active:
            stale += revoke_user_sessions(user.id, "deactivated")
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    if changes:
        audit.record(_user_action(changes), resource=user, resource_type="user", changes=changes)
    db.session.commit()
    forget_sessions(stale)
    return user


def _user_action(changes: dict[str, object]) -> str:
    if "role" in changes:
        return "user.role_change"
    if "is_active" in changes:
        return "user.reactivate" if changes["is_active"]["after"] else "user.deactivate"  # type: ignore[index]
    return "user.update"
