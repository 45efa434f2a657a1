"""Signing in: tokens and cookie, enumeration resistance, throttling and back-off, rehashing."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from backend.auth.models import User
from backend.auth.passwords import Passwords
from backend.config import SETTINGS_EXTENSION
from backend.core.extensions import db
from tests.conftest import PASSWORD, Account, AppFactory, make_school, make_user

REFRESH_COOKIE = "homeroom_refresh"


@pytest.fixture
def account(app: Flask) -> Account:
    return make_user(app, make_school(app), "teacher", email="Ada.Teacher@Example.org")


def _post(client: Any, email: str, password: str, **extra: Any) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password, **extra})


def _user(app: Flask, account: Account) -> User:
    with app.app_context():
        return db.session.get_one(User, account.user_id)


def test_login_returns_an_access_token_and_sets_the_refresh_cookie(
    app: Flask, client, account: Account
) -> None:
    response = _post(client, account.email, PASSWORD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] is None
    assert body["user"]["email"] == "ada.teacher@example.org"
    assert body["user"]["role"] == "teacher"
    assert "password_hash" not in body["user"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "sid", "school", "role", "iat", "exp", "jti"}
    assert claims["exp"] - claims["iat"] == 900
    assert (claims["sub"], claims["school"], claims["role"]) == (
        str(account.user_id),
        str(account.school_id),
        "teacher",
    )

    cookie = client.get_cookie(REFRESH_COOKIE, path="/api/auth")
    assert cookie is not None and len(cookie.value) >= 43  # 256 bits, URL-safe
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/api/auth" in header
    assert f"Max-Age={14 * 86400}" in header
    assert "Secure" not in header
    user = _user(app, account)
    assert user.last_login_at is not None and user.failed_login_count == 0


def test_cookie_is_secure_when_https_is_forced(make_app: AppFactory) -> None:
    app = make_app(FORCE_HTTPS=True)
    account = make_user(app, make_school(app))
    response = _post(app.test_client(), account.email, PASSWORD)
    assert "; Secure" in response.headers["Set-Cookie"]


def test_non_browser_clients_get_the_refresh_token_in_the_body(client, account: Account) -> None:
    response = _post(client, account.email, PASSWORD, return_refresh_token=True)
    assert len(response.get_json()["refresh_token"]) >= 43
    assert "Set-Cookie" not in response.headers


def test_email_is_matched_case_insensitively(client, account: Account) -> None:
    assert _post(client, "  ADA.TEACHER@example.ORG ", PASSWORD).status_code == 200


def _failure_shape(response: Any) -> tuple[int, str, str, str]:
    body = response.get_json()
    return response.status_code, body["code"], body["detail"], response.headers["WWW-Authenticate"]


def test_unknown_email_wrong_password_and_inactive_account_look_the_same(
    app: Flask, client, account: Account
) -> None:
    wrong_password = _post(client, account.email, "not-the-password-at-all")
    unknown = _post(client, "nobody@example.org", PASSWORD)
    admin = make_user(app, account.school_id, "admin")
    inactive = make_user(app, account.school_id, "parent")
    with app.app_context():
        db.session.get_one(User, inactive.user_id).is_active = False
        db.session.commit()
    deactivated = _post(client, inactive.email, PASSWORD)
    expected = (401, "unauthorized", "Invalid email or password.", "Bearer")
    shapes = {_failure_shape(r) for r in (wrong_password, unknown, deactivated)}
    assert shapes == {expected}
    assert _user(app, account).failed_login_count == 1
    assert _user(app, account).last_failed_login_at is not None
    assert admin  # an active user of the same school is untouched
    assert _post(client, account.email, PASSWORD).status_code == 200
    assert _user(app, account).failed_login_count == 0  # reset by a success


def test_unknown_email_costs_the_same_hashing_work(client, account: Account, monkeypatch) -> None:
    calls: list[str | None] = []
    original = Passwords._verify

    def counting(self: Passwords, stored_hash: str | None, password: str) -> bool:
        calls.append(stored_hash)
        return original(self, stored_hash, password)

    monkeypatch.setattr(Passwords, "_verify", counting)
    _post(client, account.email, "wrong-password-here")
    _post(client, "nobody@example.org", "wrong-password-here")
    assert len(calls) == 2 and calls[1] is None  # the unknown email is verified against a dummy hash


def test_failed_logins_back_off_per_account_known_or_not(make_app: AppFactory) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="3 per 15 minutes", LOGIN_RATE_LIMIT="100 per minute")
    account = make_user(app, make_school(app))
    other = make_user(app, account.school_id)
    client = app.test_client()
    for email in (account.email, "ghost@example.org"):
        assert [_post(client, email, "wrong-password-x").status_code for _ in range(3)] == [401] * 3
        blocked = _post(client, email, PASSWORD)  # even the right password waits
        assert blocked.status_code == 429
        assert blocked.get_json()["code"] == "rate_limited"
        assert int(blocked.headers["Retry-After"]) > 0
    assert _post(client, other.email, PASSWORD).status_code == 200  # other accounts are unaffected


def test_successful_logins_do_not_count_towards_the_back_off(make_app: AppFactory) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="2 per 15 minutes", LOGIN_RATE_LIMIT="100 per minute")
    account = make_user(app, make_school(app))
    client = app.test_client()
    assert [_post(client, account.email, PASSWORD).status_code for _ in range(4)] == [200] * 4


def test_failed_sign_ins_are_limited_per_ip_and_successes_are_not(make_app: AppFactory) -> None:
    """A school behind one NAT address signs in all morning; a guesser from one address is stopped."""
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", TRUSTED_PROXY_HOPS=1)
    school = make_school(app)
    accounts = [make_user(app, school) for _ in range(4)]
    client = app.test_client()
    school_ip = {"X-Forwarded-For": "203.0.113.50"}
    for _ in range(2):  # eight successful sign-ins from one address: none is refused
        for account in accounts:
            response = client.post(
                "/api/auth/login", json={"email": account.email, "password": PASSWORD}, headers=school_ip
            )
            assert response.status_code == 200
    guesser = {"X-Forwarded-For": "198.51.100.7"}
    statuses = [
        client.post(
            "/api/auth/login", json={"email": a.email, "password": "wrong-guess-123"}, headers=guesser
        )
        for a in accounts
    ]
    assert [response.status_code for response in statuses] == [401, 401, 401, 429]
    right = client.post(
        "/api/auth/login", json={"email": accounts[3].email, "password": PASSWORD}, headers=guesser
    )
    assert right.status_code == 429  # the guessing address waits, whatever it sends
    other_ip = client.post(
        "/api/auth/login", json={"email": accounts[3].email, "password": PASSWORD}, headers=school_ip
    )
    assert other_ip.status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": PASSWORD}, "body.email"),
        ({"email": "a@example.org"}, "body.password"),
        ({"email": "a@example.org", "password": PASSWORD, "remember": True}, "body.remember"),
        ({"email": ["a@example.org"], "password": PASSWORD}, "body.email"),
    ],
)
def test_malformed_login_is_422(client, payload: dict[str, Any], field: str) -> None:
    response = client.post("/api/auth/login", json=payload)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
    assert PASSWORD not in response.get_data(as_text=True)


def test_login_needs_json(client) -> None:
    response = client.post(
        "/api/auth/login", data="email=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_hash_is_upgraded_when_the_parameters_change(make_app: AppFactory) -> None:
    old = make_app()
    account = make_user(old, make_school(old))
    with old.app_context():
        assert db.session.scalar(select(User.password_hash).where(User.id == account.user_id)).startswith(
            "$argon2id$v=19$m=1024,t=1,p=1$"
        )
    new = make_app(PASSWORD_HASH_TIME_COST=2, PASSWORD_HASH_MEMORY_KIB=2048)
    assert _post(new.test_client(), account.email, PASSWORD).status_code == 200
    with new.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.id == account.user_id))
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert _post(new.test_client(), account.email, PASSWORD).status_code == 200  # still verifies


def test_credentials_never_reach_the_log(client, account: Account, logs) -> None:
    logs()
    response = _post(client, account.email, PASSWORD, return_refresh_token=True)
    body = response.get_json()
    text = str(logs())
    for secret in (PASSWORD, body["access_token"], body["refresh_token"]):
        assert secret not in text


def test_refresh_has_its_own_limit_apart_from_sign_in(make_app: AppFactory) -> None:
    """A single-page app refreshes on every page load: that must not spend the sign-in allowance,
    and sign-ins must not spend the refresh allowance."""
    app = make_app(LOGIN_RATE_LIMIT="2 per minute", REFRESH_RATE_LIMIT="4 per minute")
    account = make_user(app, make_school(app))
    client = app.test_client()
    token = _post(client, account.email, PASSWORD, return_refresh_token=True).get_json()["refresh_token"]
    assert [_post(client, account.email, "wrong-guess-123").status_code for _ in range(2)] == [401, 401]
    assert _post(client, account.email, PASSWORD).status_code == 429  # sign-in allowance spent
    remaining = []
    for _ in range(4):
        response = client.post("/api/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200, response.get_json()
        token = response.get_json()["refresh_token"]
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "4"
    assert remaining == [3, 2, 1, 0]
    blocked = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert blocked.status_code == 429 and blocked.get_json()["code"] == "rate_limited"


def test_the_default_refresh_limit_is_higher_than_sign_in(make_app: AppFactory) -> None:
    settings = make_app().extensions[SETTINGS_EXTENSION]
    assert settings.refresh_rate_limit == "60 per minute;1000 per hour"
    assert settings.login_rate_limit == "10 per minute;100 per hour"
