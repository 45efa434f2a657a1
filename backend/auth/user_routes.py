"""/api/users: user management for the admins of a school."""

from __future__ import annotations

import uuid

from flask import url_for

from backend.auth import invitations, user_service
from backend.auth import users_bp as bp
from backend.auth.models import Invitation, User
from backend.auth.schemas import InvitationOut, UserAdminOut, UserCreateIn, UserListQuery, UserUpdateIn
from backend.core.api import Headers, api
from backend.core.idempotency import idempotent
from backend.core.pagination import Page
from backend.tenancy import current_auth, requires


@bp.get("")
@requires("users.read")
@api(query=UserListQuery, response=Page[UserAdminOut])
def list_users(query: UserListQuery) -> Page[User]:
    """The school's users by email."""
    return user_service.list_users(current_auth(), query)


@bp.post("")
@requires("users.manage")
@idempotent
@api(body=UserCreateIn, response=UserAdminOut, status=201)
def create_user(body: UserCreateIn) -> tuple[User, Headers]:
    """Create a user in the school."""
    auth = current_auth()
    user = user_service.create_user(auth.school_id, body, actor=auth)
    return user, {"Location": url_for("users.get_user", user_id=user.id)}


@bp.get("/<uuid:user_id>")
@requires("users.read")
@api(response=UserAdminOut)
def get_user(user_id: uuid.UUID) -> User:
    """One user of the school."""
    return user_service.get_user(current_auth(), user_id)


@bp.patch("/<uuid:user_id>")
@requires("users.manage")
@api(body=UserUpdateIn, response=UserAdminOut)
def update_user(user_id: uuid.UUID, body: UserUpdateIn) -> User:
    """Rename, change the role, deactivate or reactivate a user."""
    return user_service.update_user(current_auth(), user_id, body)


@bp.post("/<uuid:user_id>/invitation")
@requires("users.manage")
@idempotent
@api(response=InvitationOut, status=201, problems=(409,))
def resend_invitation(user_id: uuid.UUID) -> Invitation:
    """Send a new invitation link (the previous one stops working)."""
    return invitations.resend(current_auth(), user_id)


@bp.delete("/<uuid:user_id>/invitation")
@requires("users.manage")
@api(status=204, problems=(409,))
def revoke_invitation(user_id: uuid.UUID) -> None:
    """Withdraw the pending invitation: its link stops working."""
    invitations.revoke(current_auth(), user_id)
