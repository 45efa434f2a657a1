"""Who a command line acts as in a school: its first active admin (imports, report cards)."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth.models import User
from backend.core.extensions import db
from backend.schools import school_by_slug
from backend.tenancy import AuthContext, Role


def acting_admin(slug: str) -> AuthContext:
    """The school's first active admin, as whom a command line records what it does; LookupError
    with the reason when the school or an admin is missing."""
    school = school_by_slug(slug)
    if school is None:
        raise LookupError(f"No school with slug {slug!r}.")
    admin = db.session.scalar(
        select(User)
        .where(User.school_id == school.id, User.role == Role.ADMIN.value, User.is_active.is_(True))
        .order_by(User.created_at)
        .limit(1)
    )
    if admin is None:
        raise LookupError("The school has no active admin to act as.")
    return AuthContext(admin.id, admin.id, school.id, Role.ADMIN, school.timezone, school.currency)
