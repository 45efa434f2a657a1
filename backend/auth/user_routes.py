"""/api/users: user management for the admins of a school."""

from __future__ import annotations

import uuid

from flask import Response, url_for

from backend.auth import user_service
from backend.auth import users_bp as bp
from backend.auth.access import current_auth, requires
from backend.auth.schemas import UserAdminOut, UserCreateIn, UserListQuery, UserUpdateIn
from backend.core.responses import json_response, page_response
from backend.core.validation import parse_body, parse_query


@bp.get("")
@requires("users.read")
def list_users() -> Response:
    users, next_cursor = user_service.list_users(parse_query(UserListQuery))
    return page_response(users, next_cursor, UserAdminOut)


@bp.post("")
@requires("users.manage")
def create_user() -> Response:
    user = user_service.create_user(current_auth().school_id, parse_body(UserCreateIn))
    location = url_for("users.get_user", user_id=user.id)
    return json_response(UserAdminOut.model_validate(user), 201, {"Location": location})


@bp.get("/<uuid:user_id>")
@requires("users.read")
def get_user(user_id: uuid.UUID) -> Response:
    return json_response(UserAdminOut.model_validate(user_service.get_user(user_id)))


@bp.patch("/<uuid:user_id>")
@requires("users.manage")
def update_user(user_id: uuid.UUID) -> Response:
    user = user_service.update_user(current_auth(), user_id, parse_body(UserUpdateIn))
    return json_response(UserAdminOut.model_validate(user))
