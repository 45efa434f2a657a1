"""Users: creation, listing within a school, changes, deactivation, password resets by an operator."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, or_, select

from backend import audit
from backend.auth.access import forget_sessions
from backend.auth.invitations import NO_PASSWORD_YET, invite
from backend.auth.models import AuthSession, User
from backend.auth.password_policy import require_strong, school_names, words_about, words_about_user
from backend.auth.schemas import OperatorCreateIn, UserCreateIn, UserListQuery, UserUpdateIn, normalise_email
from backend.auth.service import password_hasher, revoke_user_sessions
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.core.pagination import Page, keyset, page_of
from backend.core.validation import trim
from backend.tenancy import AuthContext, Role

USER_FIELDS = ("email", "full_name", "role", "is_active")


def create_user(school_id: uuid.UUID, data: UserCreateIn, *, actor: audit.Actor | None = None) -> User:
    """A new user of `school_id`; the email must be free in every school (sign-in is by email).

    `actor` is the admin who creates it (None from a command). Without a password the user is
    invited: an email with a link to choose one goes out with the commit."""
    return _new_user(school_id, data.email, data.full_name, Role(data.role), data.password, actor)


def create_operator(data: OperatorCreateIn) -> User:
    """A platform operator: in no school, reaching only the ops permissions (from a command)."""
    return _new_user(None, data.email, data.full_name, Role.OPERATOR, data.password, None)


def _new_user(
    school_id: uuid.UUID | None,
    email: str,
    full_name: str,
    role: Role,
    password: str | None,
    actor: audit.Actor | None,
) -> User:
    if password is not None:
        require_strong(password, words_about(email, full_name, school_names(school_id)))
    if db.session.scalar(select(exists().where(User.email == email))):
        raise Conflict("A user with this email already exists.")
    user = User(
        school_id=school_id,
        email=email,
        full_name=trim(full_name),
        role=role.value,
        password_hash=password_hasher().hash(password) if password is not None else NO_PASSWORD_YET,
        is_active=True,
    )
    user.id = uuid.uuid4()
    db.session.add(user)
    audit.record(
        actor,
        "user.create",
        resource=user,
        resource_type="user",
        school_id=school_id,  # an operator's creation goes on the platform chain
        changes=audit.snapshot(user, USER_FIELDS),
    )
    if password is None:
        invite(actor, user)
    db.session.commit()
    return user


def list_users(auth: AuthContext, query: UserListQuery) -> Page[User]:
    statement = auth.scoped(User)
    if query.role is not None:
        statement = statement.where(User.role == query.role)
    if query.is_active is not None:
        statement = statement.where(User.is_active.is_(query.is_active))
    if query.q:
        pattern = f"%{query.q.lower()}%"
        statement = statement.where(or_(User.email.like(pattern), User.full_name.ilike(pattern)))
    rows = db.session.scalars(keyset(statement, [User.email], query)).all()
    return page_of(rows, query, lambda user: [user.email])


def get_user(auth: AuthContext, user_id: uuid.UUID) -> User:
    return auth.get_scoped(User, user_id, "User")


def update_user(auth: AuthContext, user_id: uuid.UUID, data: UserUpdateIn) -> User:
    """Rename, change role, (de)activate. Deactivation ends every session of the user at once."""
    user = get_user(auth, user_id)
    if user.id == auth.user_id and (data.is_active is False or data.role not in (None, Role.ADMIN)):
        raise Conflict("You cannot deactivate or demote your own account.")
    stale: list[uuid.UUID] = []
    before = audit.snapshot(user, USER_FIELDS)
    if data.full_name is not None:
        user.full_name = trim(data.full_name)
    if data.role is not None and data.role != user.role:
        user.role = data.role
        # Cached session state carries the role: drop it so the new role applies at once.
        stale += db.session.scalars(select(AuthSession.id).where(AuthSession.user_id == user.id))
    if data.is_active is not None and data.is_active != user.is_active:
        user.is_active = data.is_active
        if not data.is_active:
            stale += revoke_user_sessions(user.id, "deactivated")
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    if changes:
        audit.record(auth, _user_action(changes), resource=user, resource_type="user", changes=changes)
    db.session.commit()
    forget_sessions(stale)
    return user


def set_password(email: str, password: str) -> User:
    """Set a user's password from the command line (a lost admin or demo password): every session
    of the user ends and the failed-login counter is cleared. The policy applies as everywhere."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user with email {email!r}.")
    require_strong(password, words_about_user(user), field="password")
    user.password_hash = password_hasher().hash(password)
    user.password_changed_at = utcnow()
    user.failed_login_count = 0
    revoked = revoke_user_sessions(user.id, "password_reset")
    audit.record(
        None,
        "user.password_reset",
        resource=user,
        resource_type="user",
        school_id=user.school_id,
        changes={"sessions_ended": len(revoked)},
    )
    db.session.commit()
    forget_sessions(revoked)
    return user


def _user_action(changes: dict[str, Any]) -> str:
    if "role" in changes:
        return "user.role_change"
    if "is_active" in changes:
        return "user.reactivate" if changes["is_active"]["after"] else "user.deactivate"
    return "user.update"
