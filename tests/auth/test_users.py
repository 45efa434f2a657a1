"""User management: admins of one school only, keyset lists, validation, deactivation rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Account, auth_headers, count_statements, make_school, make_user


@pytest.fixture
def school(app: Flask) -> uuid.UUID:
    return make_school(app)


@pytest.fixture
def admin(app: Flask, school: uuid.UUID) -> Account:
    return make_user(app, school, "admin", email="head@example.org")


@pytest.fixture
def headers(client, admin: Account) -> dict[str, str]:
    return auth_headers(client, admin)


def _new_user(**changes: Any) -> dict[str, Any]:
    return {
        "email": "New.Teacher@Example.org",
        "full_name": "New Teacher",
        "role": "teacher",
        "password": "a-long-enough-passphrase",
        **changes,
    }


def test_admin_creates_a_user(client, headers: dict[str, str]) -> None:
    response = client.post("/api/users", json=_new_user(), headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/users/{body['id']}"
    assert body["email"] == "new.teacher@example.org"
    assert (body["role"], body["is_active"], body["failed_login_count"]) == ("teacher", True, 0)
    assert body["created_at"].endswith("Z")
    assert "password" not in body and "password_hash" not in body
    fetched = client.get(response.headers["Location"], headers=headers)
    assert fetched.status_code == 200 and fetched.get_json() == body
    login = client.post(
        "/api/auth/login", json={"email": "new.teacher@example.org", "password": "a-long-enough-passphrase"}
    )
    assert login.status_code == 200


def test_email_is_unique_across_case_and_schools(app: Flask, client, headers: dict[str, str]) -> None:
    make_user(app, make_school(app), "parent", email="taken@example.org")
    response = client.post("/api/users", json=_new_user(email="TAKEN@example.org"), headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short"}, "body.password"),
        ({"password": "password1234"}, "body.password"),
        ({"role": "superuser"}, "body.role"),
        ({"email": "not-an-email"}, "body.email"),
        ({"is_admin": True}, "body.is_admin"),
        ({"full_name": ""}, "body.full_name"),
    ],
)
def test_invalid_new_users_are_refused(
    client, headers: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/users", json=_new_user(**changes), headers=headers)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_list_pages_through_every_user_once_in_email_order(
    app: Flask, client, school: uuid.UUID, headers: dict[str, str]
) -> None:
    for name in ("d", "b", "e", "a", "c"):
        make_user(app, school, "teacher", email=f"{name}@example.org")
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/users", query_string=query, headers=headers).get_json()
        assert len(body["items"]) <= 2
        seen += [item["email"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (
        seen
        == sorted(seen)
        == [
            "a@example.org",
            "b@example.org",
            "c@example.org",
            "d@example.org",
            "e@example.org",
            "head@example.org",
        ]
    )


def test_list_filters(app: Flask, client, school: uuid.UUID, headers: dict[str, str]) -> None:
    make_user(app, school, "parent", email="mum@example.org", full_name="Grace Hopper")
    make_user(app, school, "teacher", email="ms.lovelace@example.org", full_name="Ada Lovelace")

    def emails(**query: Any) -> list[str]:
        response = client.get("/api/users", query_string=query, headers=headers)
        return [user["email"] for user in response.get_json()["items"]]

    assert emails(role="parent") == ["mum@example.org"]
    assert emails(q="LOVELACE") == ["ms.lovelace@example.org"]
    assert emails(q="mum") == ["mum@example.org"]
    assert emails(is_active="true", role="admin") == ["head@example.org"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"cursor": "%%%"},
        {"cursor": "WzFd"},
        {"role": "janitor"},
        {"sort": "email"},
    ],
)
def test_bad_list_queries_are_422(client, headers: dict[str, str], query: dict[str, Any]) -> None:
    response = client.get("/api/users", query_string=query, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"].startswith("query.")


def test_list_runs_a_fixed_number_of_statements(
    app: Flask, client, school: uuid.UUID, headers: dict[str, str]
) -> None:
    for i in range(12):
        make_user(app, school, "teacher", email=f"t{i:02d}@example.org")
    client.get("/api/users", headers=headers)  # warm: the caller's session state is now cached
    counts = []
    for limit in (2, 10, 50):
        count, response = count_statements(
            app, lambda limit=limit: client.get("/api/users", query_string={"limit": limit}, headers=headers)
        )
        assert response.status_code == 200 and len(response.get_json()["items"]) == min(limit, 13)
        counts.append(count)
    assert counts == [1, 1, 1]  # one SELECT, whatever the page size


def test_admin_updates_name_and_role(app: Flask, client, school: uuid.UUID, headers: dict[str, str]) -> None:
    user = make_user(app, school, "teacher")
    response = client.patch(
        f"/api/users/{user.user_id}", json={"full_name": "Renamed", "role": "admin"}, headers=headers
    )
    assert response.status_code == 200
    assert (response.get_json()["full_name"], response.get_json()["role"]) == ("Renamed", "admin")


def test_role_change_applies_to_live_sessions_at_once(
    app: Flask, client, school: uuid.UUID, headers: dict[str, str]
) -> None:
    promoted = make_user(app, school, "teacher")
    their = auth_headers(app.test_client(), promoted)
    assert client.get("/api/users", headers=their).status_code == 403
    client.patch(f"/api/users/{promoted.user_id}", json={"role": "admin"}, headers=headers)
    assert client.get("/api/users", headers=their).status_code == 200


@pytest.mark.parametrize("body", [{}, {"role": None}, {"is_active": "no"}, {"email": "x@example.org"}])
def test_invalid_updates_are_422(
    app: Flask, client, school: uuid.UUID, headers: dict[str, str], body: dict[str, Any]
) -> None:
    user = make_user(app, school, "teacher")
    assert client.patch(f"/api/users/{user.user_id}", json=body, headers=headers).status_code == 422


@pytest.mark.parametrize("body", [{"is_active": False}, {"role": "teacher"}])
def test_admins_cannot_lock_themselves_out(
    client, admin: Account, headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.patch(f"/api/users/{admin.user_id}", json=body, headers=headers)
    assert response.status_code == 409


def test_users_are_deactivated_not_deleted(
    app: Flask, client, school: uuid.UUID, headers: dict[str, str]
) -> None:
    user = make_user(app, school, "parent")
    response = client.delete(f"/api/users/{user.user_id}", headers=headers)
    assert response.status_code == 405
    assert "DELETE" not in response.headers["Allow"]
    deactivated = client.patch(f"/api/users/{user.user_id}", json={"is_active": False}, headers=headers)
    assert deactivated.get_json()["is_active"] is False
    login = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 401
    reactivated = client.patch(f"/api/users/{user.user_id}", json={"is_active": True}, headers=headers)
    assert reactivated.get_json()["is_active"] is True


def test_non_uuid_ids_are_404(client, headers: dict[str, str]) -> None:
    assert client.get("/api/users/not-a-uuid", headers=headers).status_code == 404
    assert client.get(f"/api/users/{uuid.uuid4()}", headers=headers).status_code == 404
