"""/api/users: user management for the admins of a school."""

from __future__ import annotations

import uuid

from flask import Response, url_for

from backend.auth import user_service
from backend.auth import users_bp as bp
from backend.auth.access import current_auth, requires
from backend.auth.schemas import UserAdminOut, UserCreateIn, UserListQuery, UserUpdateIn
from backend.core.api import Page, api
from backend.core.responses import json_response, page_response


@bp.get("")
@requires("users.read")
@api(query=UserListQuery, response=Page[UserAdminOut])
def list_users(query: UserListQuery) -> Response:
    """The school's users by email."""
    users, next_cursor = user_service.list_users(query)
    return page_response(users, next_cursor, UserAdminOut)


@bp.post("")
@requires("users.manage")
@api(body=UserCreateIn, response=UserAdminOut, status=201)
def create_user(body: UserCreateIn) -> Response:
    """Create a user in the school."""
    user = user_service.create_user(current_auth().school_id, body)
    location = url_for("users.get_user", user_id=user.id)
    return json_response(UserAdminOut.model_validate(user), 201, {"Location": location})


@bp.get("/<uuid:user_id>")
@requires("users.read")
@api(response=UserAdminOut)
def get_user(user_id: uuid.UUID) -> Response:
    """One user of the school."""
    return json_response(UserAdminOut.model_validate(user_service.get_user(user_id)))


@bp.patch("/<uuid:user_id>")
@requires("users.manage")
@api(body=UserUpdateIn, response=UserAdminOut)
def update_user(user_id: uuid.UUID, body: UserUpdateIn) -> Response:
    """Rename, change the role, deactivate or reactivate a user."""
    user = user_service.update_user(current_auth(), user_id, body)
    return json_response(UserAdminOut.model_validate(user))
