"""Platform operators: no school, only ops.* (and their own account); school users never reach ops."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from backend.audit.models import PLATFORM_CHAIN, AuditEvent
from backend.auth.models import User
from backend.core.extensions import db
from backend.core.markers import route_spec
from tests.conftest import (
    PASSWORD,
    Account,
    auth_headers,
    bearer,
    login,
    make_operator,
    make_school,
    make_user,
)


def _path(rule: str) -> str:
    """A concrete URL for a rule: every variable filled with a fresh id, one of `any(...)`'s words,
    or a plain word."""
    import re

    def value(match: re.Match[str]) -> str:
        converter = match.group(1) or ""
        if converter == "uuid":
            return str(uuid.uuid4())
        if converter.startswith("any("):
            return converter[4:-1].split(",")[0].strip()
        return "x"

    return re.sub(r"<(?:([^:<>]+):)?(\w+)>", value, rule)


def _routes(app: Flask, prefix: str) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) of every guarded route under `prefix`."""
    found = []
    for rule in app.url_map.iter_rules():
        spec = route_spec(app.view_functions[rule.endpoint])
        if not rule.rule.startswith(prefix) or spec.public:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, _path(rule.rule), spec.permission))
    return found


def test_create_operator_from_the_command_line(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create-operator",
            "--email",
            "Ops@Example.org",
            "--full-name",
            "Olu Ops",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created operator ops@example.org" in result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "ops@example.org")).one()
        assert (user.role, user.school_id) == ("operator", None)
        event = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.create", AuditEvent.resource_id == str(user.id)
            )
        ).one()
        assert event.chain_id == PLATFORM_CHAIN
    weak = runner.invoke(
        args=[
            "users",
            "create-operator",
            "--email",
            "o2@example.org",
            "--full-name",
            "O",
            "--password-stdin",
        ],
        input="short\n",
    )
    assert weak.exit_code == 1 and "password" in weak.output.lower()


def test_operators_sign_in_refresh_and_sign_out_like_everyone(app: Flask) -> None:
    client = app.test_client()
    operator = make_operator(app)
    grant = login(client, operator, return_refresh_token=True)
    assert grant["user"]["role"] == "operator"
    me = client.get("/api/auth/me", headers=bearer(grant["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["school"] is None and me.get_json()["role"] == "operator"
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": grant["refresh_token"]})
    assert refreshed.status_code == 200
    token = refreshed.get_json()["access_token"]
    assert client.get("/api/ops/db-health", headers=bearer(token)).status_code == 200
    out = client.post("/api/auth/logout", json={"refresh_token": refreshed.get_json()["refresh_token"]})
    assert out.status_code == 204
    assert client.get("/api/ops/db-health", headers=bearer(token)).status_code == 401
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.actor_id == operator.user_id, AuditEvent.chain_id == PLATFORM_CHAIN
            )
        ).all()
    assert {"auth.login", "auth.logout"} <= set(actions)


def test_operators_reach_no_school_route(app: Flask) -> None:
    client = app.test_client()
    headers = auth_headers(client, make_operator(app))
    seen: dict[str, int] = {}
    for method, path, permission in _routes(app, "/api/"):
        if permission is None or permission.startswith("ops.") or permission == "auth.self":
            continue
        # A JSON body everywhere, the CSV imports included: the permission is decided before the body.
        response = client.open(path, method=method, headers=headers, json={} if method != "GET" else None)
        seen[f"{method} {path}"] = response.status_code
    assert seen and set(seen.values()) == {403}, {k: v for k, v in seen.items() if v != 403}


@pytest.mark.parametrize("role", ["admin", "teacher", "parent"])
def test_school_users_reach_no_ops_route(app: Flask, role: str) -> None:
    client = app.test_client()
    headers = auth_headers(client, make_user(app, make_school(app), role))
    routes = _routes(app, "/api/ops/")
    assert len(routes) >= 8
    for method, path, _permission in routes:
        response = client.open(
            path, method=method, headers=headers, json={"enabled": False, "issue_ids": ["x:y"]}
        )
        assert response.status_code == 403, (method, path, response.get_json())
        anonymous = client.open(path, method=method)
        assert anonymous.status_code == 401


def test_admins_cannot_make_or_see_operators(app: Flask) -> None:
    client = app.test_client()
    admin = make_user(app, make_school(app), "admin")
    operator = make_operator(app)
    headers = auth_headers(client, admin)
    body = {"email": "sneaky@example.org", "full_name": "Sneaky", "role": "operator", "password": PASSWORD}
    refused = client.post("/api/users", json=body, headers=headers)
    assert refused.status_code == 422
    listed = client.get("/api/users?limit=200", headers=headers).get_json()["items"]
    assert operator.email not in {user["email"] for user in listed}
    assert client.get(f"/api/users/{operator.user_id}", headers=headers).status_code == 404
    promote = client.patch(f"/api/users/{admin.user_id}", json={"role": "operator"}, headers=headers)
    assert promote.status_code == 422


def test_the_database_refuses_an_operator_with_a_school_or_a_user_without_one(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError

    school = make_school(app)
    with app.app_context():
        for role, school_id in (("operator", school), ("admin", None)):
            db.session.add(
                User(
                    email=f"{role}-bad@example.org",
                    password_hash="x",
                    role=role,
                    full_name="X",
                    school_id=school_id,
                )
            )
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()


def _open(app: Flask, account: Account, method: str, path: str, **kwargs: Any) -> Any:
    client = app.test_client()
    return client.open(path, method=method, headers=auth_headers(client, account), **kwargs)
