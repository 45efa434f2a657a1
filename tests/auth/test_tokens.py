"""The token lifecycle: access tokens refused for every flaw, refresh rotation, reuse, logout."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select, update

from backend.auth.models import AuthSession, RefreshToken, User
from backend.auth.tokens import issue_access_token
from backend.config import current_settings
from backend.core.extensions import db
from tests.conftest import PASSWORD, Account, AppFactory, bearer, login, make_school, make_user

ORIGIN = "https://app.example.org"
COOKIE = "homeroom_refresh"


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app(CORS_ORIGINS=ORIGIN)


@pytest.fixture
def account(app: Flask) -> Account:
    return make_user(app, make_school(app), "parent")


def _me(client: Any, token: str) -> Any:
    return client.get("/api/auth/me", headers=bearer(token))


def _claims(app: Flask, account: Account, **changes: Any) -> dict[str, Any]:
    with app.app_context():
        session_id = db.session.scalar(select(AuthSession.id).where(AuthSession.user_id == account.user_id))
    now = int(time.time())
    claims = {
        "sub": str(account.user_id),
        "sid": str(session_id),
        "school": str(account.school_id),
        "role": account.role,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": "homeroom",
        "aud": "homeroom-api",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signing_key(app: Flask) -> str:
    return app.extensions["homeroom.settings"].jwt_secret_key.get_secret_value()


# --- access tokens ------------------------------------------------------------------------------


def test_me_describes_the_caller(client, account: Account) -> None:
    body = _me(client, login(client, account)["access_token"]).get_json()
    assert body["user"]["id"] == str(account.user_id)
    assert body["school"]["id"] == str(account.school_id)
    assert body["school"]["timezone"] == "Europe/London" and body["school"]["currency"] == "GBP"
    assert body["role"] == "parent"
    assert body["children"] == []


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_malformed_authorization_is_401(client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _assert_invalid(response: Any, detail: str = "The access token is invalid.") -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.get_json()["detail"] == detail


def test_expired_token_is_refused(app: Flask, client, account: Account) -> None:
    login(client, account)
    past = int(time.time()) - 3600
    token = jwt.encode(_claims(app, account, iat=past, exp=past + 900), _signing_key(app), algorithm="HS256")
    _assert_invalid(_me(client, token), "The access token has expired.")


def test_token_issued_by_the_app_expires_after_its_ttl(make_app: AppFactory) -> None:
    app = make_app(ACCESS_TOKEN_TTL_SECONDS=60)
    account = make_user(app, make_school(app))
    client = app.test_client()
    login(client, account)
    with app.test_request_context():
        token = issue_access_token(
            current_settings(),
            user_id=account.user_id,
            session_id=uuid.UUID(_claims(app, account)["sid"]),
            school_id=account.school_id,
            role="admin",
            now=datetime.now(UTC) - timedelta(seconds=61),
        )
    _assert_invalid(_me(client, token), "The access token has expired.")


def test_a_token_is_verified_once_then_only_its_expiry_is_checked(
    client, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.auth import tokens

    token = login(client, account)["access_token"]
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting_decode)
    assert [_me(client, token).status_code for _ in range(3)] == [200, 200, 200]
    assert decoded == [token]


def test_a_verified_token_still_expires(client, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.auth import tokens

    token = login(client, account)["access_token"]
    assert _me(client, token).status_code == 200  # verified, and kept
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(tokens.time, "time", lambda: float(expires))
    _assert_invalid(_me(client, token), "The access token has expired.")


def test_a_kept_token_is_not_taken_under_another_key(make_app: AppFactory) -> None:
    issuer = make_app(JWT_SECRET_KEY="a" * 48)
    account = make_user(issuer, make_school(issuer))
    token = login(issuer.test_client(), account)["access_token"]
    assert _me(issuer.test_client(), token).status_code == 200
    other = make_app(JWT_SECRET_KEY="b" * 48)
    _assert_invalid(_me(other.test_client(), token))


def test_a_kept_token_of_an_ended_session_is_refused(client, account: Account) -> None:
    token = login(client, account)["access_token"]
    assert _me(client, token).status_code == 200
    assert client.post("/api/auth/logout", headers={"Origin": ORIGIN}).status_code == 204
    assert _me(client, token).status_code == 401


def test_tampered_signature_is_refused(client, account: Account) -> None:
    token = login(client, account)["access_token"]
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _assert_invalid(_me(client, f"{head}.{payload}.{flipped}"))


def test_tampered_payload_is_refused(app: Flask, client, account: Account) -> None:
    token = login(client, account)["access_token"]
    head, _payload, signature = token.split(".")
    forged = jwt.encode(_claims(app, account, role="admin"), "x" * 32, algorithm="HS256").split(".")[1]
    _assert_invalid(_me(client, f"{head}.{forged}.{signature}"))


def test_alg_none_is_refused(app: Flask, client, account: Account) -> None:
    login(client, account)
    token = jwt.encode(_claims(app, account), None, algorithm="none")
    _assert_invalid(_me(client, token))


def test_wrong_key_is_refused(app: Flask, client, account: Account) -> None:
    login(client, account)
    _assert_invalid(_me(client, jwt.encode(_claims(app, account), "another-key-" * 4, algorithm="HS256")))


def test_other_algorithms_are_refused(app: Flask, client, account: Account) -> None:
    login(client, account)
    _assert_invalid(_me(client, jwt.encode(_claims(app, account), _signing_key(app), algorithm="HS512")))


@pytest.mark.parametrize("missing", ["sid", "jti", "exp", "iat", "aud", "iss", "school"])
def test_token_missing_a_claim_is_refused(app: Flask, client, account: Account, missing: str) -> None:
    login(client, account)
    token = jwt.encode(_claims(app, account, **{missing: None}), _signing_key(app), algorithm="HS256")
    _assert_invalid(_me(client, token))


def test_garbage_token_is_refused(client) -> None:
    _assert_invalid(client.get("/api/auth/me", headers=bearer("not.a.jwt")))


# --- refresh ------------------------------------------------------------------------------------


def _refresh(client: Any, origin: str | None = ORIGIN, **body: Any) -> Any:
    headers = {"Origin": origin} if origin else {}
    return client.post("/api/auth/refresh", json=body or None, headers=headers)


def test_refresh_rotates_the_cookie(client, account: Account) -> None:
    login(client, account)
    first = client.get_cookie(COOKIE, path="/api/auth").value
    response = _refresh(client)
    assert response.status_code == 200
    assert _me(client, response.get_json()["access_token"]).status_code == 200
    second = client.get_cookie(COOKIE, path="/api/auth").value
    assert second != first


def test_reusing_a_rotated_token_revokes_the_whole_session(make_app: AppFactory) -> None:
    app = make_app(CORS_ORIGINS=ORIGIN, REFRESH_REUSE_SECONDS=0)  # no grace: test_refresh_reuse.py
    account = make_user(app, make_school(app), "parent")
    client = app.test_client()
    access = login(client, account)["access_token"]
    stolen = client.get_cookie(COOKIE, path="/api/auth").value
    assert _refresh(client).status_code == 200  # the legitimate client rotates
    current = client.get_cookie(COOKIE, path="/api/auth").value

    client.set_cookie(COOKIE, stolen, path="/api/auth")
    replay = _refresh(client)  # the thief replays the old one
    assert replay.status_code == 401
    client.set_cookie(COOKIE, current, path="/api/auth")
    assert _refresh(client).status_code == 401  # the family is gone: the newest token is dead too
    assert _me(client, access).status_code == 401  # and so are its access tokens
    with app.app_context():
        session = db.session.scalar(select(AuthSession).where(AuthSession.user_id == account.user_id))
        assert session.revoked_reason == "reuse_detected"


def test_refresh_tokens_are_stored_only_as_hashes(app: Flask, client, account: Account) -> None:
    token = login(client, account, return_refresh_token=True)["refresh_token"]
    with app.app_context():
        stored = db.session.scalars(select(RefreshToken.token_hash)).all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
def test_browser_refresh_needs_an_allowed_origin(client, account: Account, origin: str | None) -> None:
    login(client, account)
    response = _refresh(client, origin=origin)
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


def test_native_clients_refresh_with_the_body(client, account: Account) -> None:
    token = login(client, account, return_refresh_token=True)["refresh_token"]
    response = _refresh(client, origin=None, refresh_token=token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["refresh_token"] not in (None, token)
    assert "Set-Cookie" not in response.headers
    repeat = _refresh(client, origin=None, refresh_token=token)  # a retry gets the same answer
    assert repeat.status_code == 200 and repeat.get_json()["refresh_token"] == body["refresh_token"]


def test_expired_refresh_token_is_refused(app: Flask, client, account: Account) -> None:
    token = login(client, account, return_refresh_token=True)["refresh_token"]
    with app.app_context():
        db.session.execute(update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert _refresh(client, origin=None, refresh_token=token).status_code == 401


def test_refresh_without_a_token_is_401(client) -> None:
    assert _refresh(client).status_code == 401
    assert _refresh(client, origin=None, refresh_token="made-up-token").status_code == 401


# --- logout, password, deactivation ---------------------------------------------------------------


def test_logout_ends_the_session_and_clears_the_cookie(client, account: Account) -> None:
    access = login(client, account)["access_token"]
    response = client.post("/api/auth/logout", headers={"Origin": ORIGIN})
    assert response.status_code == 204
    assert "homeroom_refresh=;" in response.headers["Set-Cookie"]
    assert client.get_cookie(COOKIE, path="/api/auth") is None
    assert _me(client, access).status_code == 401
    assert client.post("/api/auth/logout", headers={"Origin": ORIGIN}).status_code == 204  # idempotent


def test_logout_with_the_access_token_alone(client, account: Account) -> None:
    access = login(client, account, return_refresh_token=True)["access_token"]
    assert client.post("/api/auth/logout", headers=bearer(access)).status_code == 204
    assert _me(client, access).status_code == 401


def test_logout_all_ends_every_session(app: Flask, account: Account) -> None:
    phone, laptop = app.test_client(), app.test_client()
    phone_access = login(phone, account)["access_token"]
    laptop_access = login(laptop, account)["access_token"]
    assert laptop.post("/api/auth/logout-all", headers=bearer(laptop_access)).status_code == 204
    assert _me(phone, phone_access).status_code == 401
    assert _me(laptop, laptop_access).status_code == 401
    assert _refresh(phone).status_code == 401


def test_password_change_keeps_this_session_and_ends_the_others(app: Flask, account: Account) -> None:
    phone, laptop = app.test_client(), app.test_client()
    phone_access = login(phone, account)["access_token"]
    laptop_access = login(laptop, account)["access_token"]
    new_password = "a-brand-new-passphrase-42"
    response = laptop.post(
        "/api/auth/password",
        headers=bearer(laptop_access),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert response.status_code == 204
    assert _me(laptop, laptop_access).status_code == 200
    assert _me(phone, phone_access).status_code == 401
    assert _refresh(phone).status_code == 401
    old = phone.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
    assert old.status_code == 401
    new = phone.post("/api/auth/login", json={"email": account.email, "password": new_password})
    assert new.status_code == 200


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        ("wrong-current-password", "a-brand-new-passphrase-42", "body.current_password"),
        (PASSWORD, "short", "body.new_password"),
        (PASSWORD, "password1234", "body.new_password"),
        (PASSWORD, "x" * 129, "body.new_password"),
        (PASSWORD, PASSWORD, "body.new_password"),
    ],
)
def test_password_change_refusals(client, account: Account, current: str, new: str, field: str) -> None:
    access = login(client, account)["access_token"]
    response = client.post(
        "/api/auth/password", headers=bearer(access), json={"current_password": current, "new_password": new}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
    assert new not in response.get_data(as_text=True)


def _deactivate(app: Flask, account: Account) -> None:
    admin = make_user(app, account.school_id, "admin")
    client = app.test_client()
    headers = bearer(login(client, admin)["access_token"])
    response = client.patch(f"/api/users/{account.user_id}", json={"is_active": False}, headers=headers)
    assert response.status_code == 200


def test_deactivation_cuts_off_access_and_refresh_at_once(app: Flask, client, account: Account) -> None:
    access = login(client, account)["access_token"]
    assert _me(client, access).status_code == 200
    _deactivate(app, account)
    assert _me(client, access).status_code == 401
    assert _refresh(client).status_code == 401


def test_cached_state_elsewhere_expires_within_its_bound(make_app: AppFactory) -> None:
    """Another instance whose cache is not shared sees a deactivation once its cached state expires."""
    here = make_app(AUTH_STATE_CACHE_SECONDS=1, REDIS_URL="")
    elsewhere = make_app(AUTH_STATE_CACHE_SECONDS=1, REDIS_URL="")
    account = make_user(here, make_school(here))
    access = login(here.test_client(), account)["access_token"]
    other = elsewhere.test_client()
    assert _me(other, access).status_code == 200  # state now cached over there
    _deactivate(here, account)
    assert _me(other, access).status_code == 200  # still cached (at most AUTH_STATE_CACHE_SECONDS)
    time.sleep(1.1)
    assert _me(other, access).status_code == 401
    with here.app_context():
        assert db.session.get_one(User, account.user_id).is_active is False
