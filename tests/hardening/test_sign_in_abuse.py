"""Sign-in abuse controls that slow an attacker without locking out the owner: failures count per
account and client, with a higher account-wide ceiling; wrong current passwords are throttled;
X-RateLimit-Remaining is exact; the dummy hash for unknown emails exists from the start."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from backend.auth.service import PASSWORDS_EXTENSION
from tests.conftest import PASSWORD, AppFactory, auth_headers, make_school, make_user

WRONG = "wrong-guess-123"


def _login(client: Any, email: str, password: str, ip: str) -> Any:
    return client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": ip}
    )


def test_an_attacker_is_slowed_and_the_owner_still_signs_in(make_app: AppFactory) -> None:
    app = make_app(
        LOGIN_FAILURE_LIMIT="3 per 15 minutes", LOGIN_RATE_LIMIT="100 per minute", TRUSTED_PROXY_HOPS=1
    )
    owner = make_user(app, make_school(app), "admin")
    client = app.test_client()
    attacker = "198.51.100.7"
    assert [_login(client, owner.email, WRONG, attacker).status_code for _ in range(3)] == [401] * 3
    blocked = _login(client, owner.email, PASSWORD, attacker)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert _login(client, owner.email, PASSWORD, "203.0.113.10").status_code == 200  # the owner, elsewhere


def test_many_clients_failing_on_one_account_hit_the_account_ceiling(make_app: AppFactory) -> None:
    app = make_app(
        LOGIN_FAILURE_LIMIT="3 per 15 minutes",
        LOGIN_ACCOUNT_FAILURE_LIMIT="6 per 15 minutes",
        LOGIN_RATE_LIMIT="100 per minute",
        TRUSTED_PROXY_HOPS=1,
    )
    owner, bystander = (
        make_user(app, school := make_school(app), "teacher"),
        make_user(app, school, "teacher"),
    )
    client = app.test_client()
    for n in range(3):  # a distributed guess: two failures from each of three addresses
        for _ in range(2):
            assert _login(client, owner.email, WRONG, f"198.51.100.{n}").status_code == 401
    assert _login(client, owner.email, PASSWORD, "203.0.113.10").status_code == 429  # the ceiling
    assert _login(client, bystander.email, PASSWORD, "198.51.100.0").status_code == 200  # others unaffected


def test_remaining_is_exact_after_each_failure(make_app: AppFactory) -> None:
    """The headers are read after the failure is counted: what they say is left, is left."""
    app = make_app(LOGIN_FAILURE_LIMIT="4 per 15 minutes", LOGIN_ACCOUNT_FAILURE_LIMIT="4 per 15 minutes")
    account = make_user(app, make_school(app))
    client = app.test_client()
    seen = []
    for _ in range(4):
        response = client.post("/api/auth/login", json={"email": account.email, "password": WRONG})
        assert response.status_code == 401
        seen.append((response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]))
    assert seen == [("4", "3"), ("4", "2"), ("4", "1"), ("4", "0")]
    refused = client.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"


def test_wrong_current_passwords_are_throttled_per_user(make_app: AppFactory) -> None:
    app = make_app(PASSWORD_CHANGE_FAILURE_LIMIT="3 per 15 minutes")
    school = make_school(app)
    account, other = make_user(app, school, "teacher"), make_user(app, school, "teacher")
    client = app.test_client()
    headers = auth_headers(client, account)

    def change(current: str) -> Any:
        body = {"current_password": current, "new_password": "a-brand-new-passphrase"}
        return client.post("/api/auth/password", json=body, headers=headers)

    assert [change(WRONG).status_code for _ in range(3)] == [422] * 3
    assert change(PASSWORD).status_code == 429  # even the right one waits now
    other_headers = auth_headers(client, other)
    body = {"current_password": WRONG, "new_password": "a-brand-new-passphrase"}
    assert client.post("/api/auth/password", json=body, headers=other_headers).status_code == 422


def test_a_weak_new_password_does_not_count_as_a_guess(make_app: AppFactory) -> None:
    app = make_app(PASSWORD_CHANGE_FAILURE_LIMIT="2 per 15 minutes")
    account = make_user(app, make_school(app), "teacher")
    client = app.test_client()
    headers = auth_headers(client, account)
    weak = {"current_password": PASSWORD, "new_password": "short"}
    assert [client.post("/api/auth/password", json=weak, headers=headers).status_code for _ in range(3)] == [
        422
    ] * 3
    strong = {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}
    assert client.post("/api/auth/password", json=strong, headers=headers).status_code == 204


def test_the_dummy_hash_is_made_when_the_app_is_built(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app: Flask = make_app()
    assert app.extensions[PASSWORDS_EXTENSION]._dummy_hash.startswith("$argon2id$")
    hashes: list[str] = []
    monkeypatch.setattr(PasswordHasher, "hash", lambda _self, password, **_: hashes.append(password) or "x")
    response = app.test_client().post(
        "/api/auth/login", json={"email": "nobody@example.org", "password": WRONG}
    )
    assert response.status_code == 401
    assert hashes == []  # the unknown email verified against the hash made at start, none made now
