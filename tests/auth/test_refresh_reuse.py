"""Two tabs, one session: refreshes that race with one refresh token (two open tabs, a retried
request) get the same new token within REFRESH_REUSE_SECONDS and keep the user signed in; a spent
token that comes back later, or from two rotations back, still ends the whole session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.auth.models import AuthSession, RefreshToken
from backend.config import ConfigError, settings_from
from backend.core.extensions import db
from tests.conftest import Account, AppFactory, bearer, login, make_school, make_user

ORIGIN = "https://app.example.org"
COOKIE = "homeroom_refresh"
INVALID = 'Bearer error="invalid_token"'


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app(CORS_ORIGINS=ORIGIN)


@pytest.fixture
def account(app: Flask) -> Account:
    return make_user(app, make_school(app), "teacher")


def _refresh(client: FlaskClient, token: str) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def _refresh_with_cookie(client: FlaskClient, origin: str = ORIGIN) -> Any:
    return client.post("/api/auth/refresh", headers={"Origin": origin})


def _me(client: FlaskClient, access: str) -> int:
    return client.get("/api/auth/me", headers=bearer(access)).status_code


def _session_of(access: str) -> str:
    claims: dict[str, Any] = jwt.decode(access, options={"verify_signature": False})
    return str(claims["sid"])


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE, path="/api/auth")
    assert cookie is not None
    return cookie.value


def _at_once(app: Flask, count: int, call: Callable[[FlaskClient], Any]) -> list[Any]:
    """`count` requests started together, each from its own client on its own thread."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def attempt(position: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        results[position] = call(client)

    threads = [threading.Thread(target=attempt, args=(position,)) for position in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _session_row(app: Flask, account: Account) -> AuthSession:
    with app.app_context():
        session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == account.user_id)).one()
        db.session.expunge(session)
        return session


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == INVALID
    assert response.get_json()["code"] == "unauthorized"


# --- the same token at the same moment ------------------------------------------------------------


def test_concurrent_refreshes_with_one_token_all_get_the_same_new_token(app: Flask, account: Account) -> None:
    grant = login(app.test_client(), account, return_refresh_token=True)
    responses = _at_once(app, 5, lambda client: _refresh(client, grant["refresh_token"]))

    assert [response.status_code for response in responses] == [200] * 5
    bodies = [response.get_json() for response in responses]
    new_tokens = {body["refresh_token"] for body in bodies}
    assert len(new_tokens) == 1 and grant["refresh_token"] not in new_tokens
    client = app.test_client()
    for body in bodies:  # every answer is an access token for the same, live session
        assert _session_of(body["access_token"]) == _session_of(grant["access_token"])
        assert _me(client, body["access_token"]) == 200
    with app.app_context():  # one rotation, not five: the old token and its one successor
        stored = db.session.scalars(select(RefreshToken).where(RefreshToken.used_at.is_(None))).all()
        assert len(stored) == 1 and len(db.session.scalars(select(RefreshToken)).all()) == 2

    later = _refresh(client, new_tokens.pop())  # the user is still signed in
    assert later.status_code == 200
    assert later.get_json()["refresh_token"] not in {grant["refresh_token"], *new_tokens}
    assert _session_row(app, account).revoked_at is None


def test_two_tabs_refreshing_with_the_cookie_share_one_new_cookie(app: Flask, account: Account) -> None:
    first_tab = app.test_client()
    login(first_tab, account)
    old = _cookie(first_tab)
    second_tab = app.test_client()
    second_tab.set_cookie(COOKIE, old, path="/api/auth")

    responses = _at_once(app, 2, lambda client: _refresh_with_cookie_from(client, old))
    assert [response.status_code for response in responses] == [200, 200]
    cookies = {_set_cookie_value(response) for response in responses}
    assert len(cookies) == 1 and old not in cookies

    # A tab that refreshes a moment later with the old cookie gets the same new one too.
    late = _refresh_with_cookie(second_tab)
    assert late.status_code == 200 and _set_cookie_value(late) in cookies
    assert _me(second_tab, late.get_json()["access_token"]) == 200
    assert _refresh_with_cookie(second_tab).status_code == 200  # and refreshes on from there


def _refresh_with_cookie_from(client: FlaskClient, cookie: str) -> Any:
    client.set_cookie(COOKIE, cookie, path="/api/auth")
    return _refresh_with_cookie(client)


def _set_cookie_value(response: Any) -> str:
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=") and "HttpOnly" in header
    return str(header.split(";", 1)[0].removeprefix(f"{COOKIE}="))


def test_a_repeat_is_logged_without_the_token(app: Flask, account: Account, logs) -> None:
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    first = _refresh(client, grant["refresh_token"]).get_json()
    logs()
    repeat = _refresh(client, grant["refresh_token"])
    assert repeat.status_code == 200 and repeat.get_json()["refresh_token"] == first["refresh_token"]
    lines = logs()
    repeated = [line for line in lines if line.get("event") == "refresh_repeated"]
    assert len(repeated) == 1 and repeated[0]["session_id"] == _session_of(grant["access_token"])
    assert not any(line.get("event") == "refresh_token_reuse" for line in lines)
    text = " ".join(map(str, lines))
    assert grant["refresh_token"] not in text and first["refresh_token"] not in text


def test_the_database_holds_no_usable_refresh_token(app: Flask, account: Account) -> None:
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    new = _refresh(client, grant["refresh_token"]).get_json()["refresh_token"]
    with app.app_context():
        rows = db.session.execute(select(RefreshToken.token_hash, RefreshToken.successor_sealed)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert new not in stored and grant["refresh_token"] not in stored


# --- reuse that is not a race ---------------------------------------------------------------------


def test_reuse_after_the_interval_revokes_the_session(make_app: AppFactory, logs) -> None:
    app = make_app(REFRESH_REUSE_SECONDS=1)
    account = make_user(app, make_school(app), "parent")
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    new = _refresh(client, grant["refresh_token"]).get_json()
    time.sleep(1.5)  # past the interval (a wait, not a measurement)

    logs()
    _assert_refused(_refresh(client, grant["refresh_token"]))
    assert [line["event"] for line in logs() if line.get("event") == "refresh_token_reuse"] == [
        "refresh_token_reuse"
    ]
    _assert_refused(_refresh(client, new["refresh_token"]))  # the new token is dead too
    assert _me(client, new["access_token"]) == 401
    session = _session_row(app, account)
    assert session.revoked_at is not None and session.revoked_reason == "reuse_detected"


def test_reuse_two_rotations_back_revokes_at_once(app: Flask, account: Account) -> None:
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    second = _refresh(client, grant["refresh_token"]).get_json()
    third = _refresh(client, second["refresh_token"]).get_json()

    _assert_refused(_refresh(client, grant["refresh_token"]))  # well within the interval, but two back
    _assert_refused(_refresh(client, third["refresh_token"]))
    assert _me(client, third["access_token"]) == 401
    assert _session_row(app, account).revoked_reason == "reuse_detected"


def test_a_repeat_after_the_new_token_was_used_revokes(app: Flask, account: Account) -> None:
    """Once a tab has refreshed with the new token, the old one is two generations back."""
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    second = _refresh(client, grant["refresh_token"]).get_json()
    assert _refresh(client, grant["refresh_token"]).get_json()["refresh_token"] == second["refresh_token"]
    third = _refresh(client, second["refresh_token"]).get_json()

    _assert_refused(_refresh(client, grant["refresh_token"]))
    _assert_refused(_refresh(client, third["refresh_token"]))


def test_a_zero_interval_makes_every_reuse_revoke(make_app: AppFactory) -> None:
    app = make_app(REFRESH_REUSE_SECONDS=0)
    account = make_user(app, make_school(app), "admin")
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    new = _refresh(client, grant["refresh_token"]).get_json()
    _assert_refused(_refresh(client, grant["refresh_token"]))
    _assert_refused(_refresh(client, new["refresh_token"]))


@pytest.mark.parametrize("seconds", ["-1", "301", "soon"])
def test_the_interval_is_bounded(seconds: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(REFRESH_REUSE_SECONDS=seconds)
    assert [problem.split(":")[0] for problem in caught.value.problems] == ["REFRESH_REUSE_SECONDS"]


def test_a_logged_out_session_cannot_be_refreshed_by_a_repeat(app: Flask, account: Account) -> None:
    client = app.test_client()
    grant = login(client, account, return_refresh_token=True)
    _refresh(client, grant["refresh_token"])
    assert client.post("/api/auth/logout", json={"refresh_token": grant["refresh_token"]}).status_code == 204
    _assert_refused(_refresh(client, grant["refresh_token"]))


# --- development: the page on localhost or on 127.0.0.1 ----------------------------------------------


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:5173"])
def test_development_accepts_the_dev_server_under_both_names(make_app: AppFactory, origin: str) -> None:
    app = make_app(APP_ENV="development")
    account = make_user(app, make_school(app), "admin")
    client = app.test_client()
    login(client, account)
    response = _refresh_with_cookie(client, origin)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_outside_development_no_origin_is_assumed(make_app: AppFactory) -> None:
    app = make_app()  # APP_ENV=testing, CORS_ORIGINS unset
    account = make_user(app, make_school(app), "admin")
    client = app.test_client()
    login(client, account)
    response = _refresh_with_cookie(client, "http://localhost:5173")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
