"""Deny by default, the route audit, and every role (and another school) against every user route."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import structlog
from flask import Blueprint, Flask

from backend.core.markers import is_public, public
from backend.tenancy import PERMISSIONS, Role, unprotected_routes
from tests.conftest import Account, auth_headers, make_school, make_user

PUBLIC_ROUTES = {
    "/health",
    "/ready",
    "/api/health",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/auth/invitations/accept",  # the invitation's token is the credential
    "/api/auth/password-reset",  # the same answer for every address
    "/api/auth/password-reset/confirm",  # the reset link's token is the credential
    "/api/notifications/unsubscribe",  # the email's signed link is the credential
    "/api/integrations/xero/callback",  # the single-use state of the admin's connect is the credential
    "/api/integrations/xero/webhooks",  # Xero's HMAC signature of the body is the credential
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/assets/<path:filename>",
    "/metrics",  # a probe: its own bearer token (METRICS_TOKEN), not a user's
    "/ops",  # the ops console's page and files: static, its data needs an operator's token
    "/ops/assets/<filename>",
}


def test_every_route_is_public_on_purpose_or_guarded(app: Flask) -> None:
    assert unprotected_routes(app) == []
    public_rules = {
        rule.rule for rule in app.url_map.iter_rules() if is_public(app.view_functions[rule.endpoint])
    }
    assert public_rules == PUBLIC_ROUTES


def test_an_unmarked_route_is_reported_and_still_denied(app: Flask) -> None:
    bp = Blueprint("forgotten", __name__)

    @bp.get("/api/forgotten")
    def forgotten() -> dict[str, bool]:
        return {"leaked": True}

    app.register_blueprint(bp)
    assert unprotected_routes(app) == ["GET /api/forgotten (forgotten.forgotten)"]
    response = app.test_client().get("/api/forgotten")
    assert response.status_code == 401  # deny by default, even when the marking was forgotten


def test_routes_audit_command(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["routes-audit"])
    assert result.exit_code == 0, result.output
    bp = Blueprint("forgotten", __name__)
    bp.add_url_rule("/api/oops", "oops", lambda: {})
    app.register_blueprint(bp)
    result = app.test_cli_runner().invoke(args=["routes-audit"])
    assert result.exit_code == 1
    assert "GET /api/oops (forgotten.oops)" in result.output


def test_preflight_needs_no_token(make_app: Any) -> None:
    client = make_app(CORS_ORIGINS="https://app.example.org").test_client()
    response = client.options(
        "/api/users",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.org"


def test_the_permission_table_names_real_roles() -> None:
    assert all(roles and roles <= set(Role) for roles in PERMISSIONS.values())


def test_unknown_permissions_fail_at_import_time() -> None:
    from backend.tenancy import requires

    with pytest.raises(KeyError):
        requires("users.launch_missiles")


# --- every role, and another school, against every user route -----------------------------------


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    school, other_school = make_school(app), make_school(app)
    accounts = {role: make_user(app, school, role) for role in ("admin", "teacher", "parent")}
    accounts["other_admin"] = make_user(app, other_school, "admin")
    target = make_user(app, school, "teacher")
    return {"accounts": accounts, "target": target}


def _body(method: str) -> dict[str, str] | None:
    if method == "POST":
        return {
            "email": f"n{uuid.uuid4().hex[:8]}@example.org",
            "full_name": "N",
            "role": "parent",
            "password": "a-long-enough-passphrase",
        }
    return {"full_name": "Changed"} if method == "PATCH" else None


def _call(client: Any, method: str, path: str, headers: dict[str, str]) -> int:
    return client.open(path, method=method, json=_body(method), headers=headers).status_code


ROUTES = [
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/{id}"),
    ("PATCH", "/api/users/{id}"),
]
EXPECTED = {  # caller -> status per route, in ROUTES order
    "admin": [200, 201, 200, 200],
    "teacher": [403, 403, 403, 403],
    "parent": [403, 403, 403, 403],
    "other_admin": [200, 201, 404, 404],  # their own school's list; another school's user is not found
    "anonymous": [401, 401, 401, 401],
}


@pytest.mark.parametrize("caller", list(EXPECTED))
def test_user_routes_by_caller(app: Flask, world: dict[str, Any], caller: str) -> None:
    client = app.test_client()
    headers = {} if caller == "anonymous" else auth_headers(client, world["accounts"][caller])
    target: Account = world["target"]
    statuses = [_call(client, method, path.format(id=target.user_id), headers) for method, path in ROUTES]
    assert statuses == EXPECTED[caller]


def test_another_school_never_sees_our_users(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    headers = auth_headers(client, world["accounts"]["other_admin"])
    listed = client.get("/api/users", headers=headers).get_json()["items"]
    assert [user["email"] for user in listed] == [world["accounts"]["other_admin"].email]
    missing = client.get(f"/api/users/{world['target'].user_id}", headers=headers)
    unknown = client.get(f"/api/users/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == unknown.status_code == 404
    assert missing.get_json()["detail"] == unknown.get_json()["detail"] == "User not found."


def test_access_log_names_the_user_and_school(app: Flask, world: dict[str, Any], logs) -> None:
    client = app.test_client()
    admin: Account = world["accounts"]["admin"]
    headers = auth_headers(client, admin)
    logs()
    client.get("/api/users", headers=headers)
    line = next(line for line in logs() if line.get("logger") == "homeroom.access")
    assert (line["user_id"], line["school_id"]) == (str(admin.user_id), str(admin.school_id))
    assert structlog.contextvars.get_contextvars() == {}  # nothing stays bound after the request


def test_public_test_route_needs_no_token(app: Flask) -> None:
    bp = Blueprint("open", __name__)

    @bp.get("/api/open")
    @public
    def open_route() -> dict[str, bool]:
        return {"open": True}

    app.register_blueprint(bp)
    assert app.test_client().get("/api/open").status_code == 200
