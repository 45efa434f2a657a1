"""The password rule (NIST SP 800-63B): 12 to 128 characters, no composition rules, and nothing easy
to guess: common passwords, a common word with digits, a sequence or a year added, or the person's
own name, email address or school name. Every path that sets a password applies it, and a refusal
says what to do instead."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from backend.auth.models import Invitation, PasswordResetRequest, PasswordResetToken, User
from backend.auth.tokens import hash_secret_token
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.schools.service import create_school
from tests.conftest import PASSWORD, Account, auth_headers, bearer, login, make_school, make_user

SCHOOL_NAME, SLUG = "Juniper Hollow Academy", "juniper-hollow"
NAME, EMAIL = "Wilhelmina Featherstonehaugh", "skylark.ridge@example.org"
ADVICE = "unrelated words"  # every refusal says what to do instead
OWN_WORDS = "your name, your email address, your school's name"
COMMON = ["password123456", "Password2024", "qwertyuiop1", "letmein!", "Summer2024!!", "abcdefghijkl1"]
# Each is accepted for anybody else (see test_the_persons_own_words_are_refused).
PERSONAL = {
    "name_and_digits": "WilhelminaFeatherstonehaugh7",
    "email_local_part_and_year": "skylark.ridge2025",
    "school_name_and_123": "JuniperHollowAcademy123",
}
STRONG = [
    "correct horse battery staple",
    "a-long-enough-passphrase",
    "Lantern-Quietly-Orbit-93",
    # 128 characters: the longest allowed; only the start is estimated, the rest is still the password
    "amber-falcon-drifts-over-the-granite-ridge-while-seven-copper-kettles-hum-beside-a-sleepy-lighthouse-"
    "keeper-named-ozymandias-xyz",
]
TOKEN = "a-link-token-" + "z" * 30


@pytest.fixture
def school(app: Flask) -> uuid.UUID:
    with app.app_context():
        return create_school(SCHOOL_NAME, SLUG, "Europe/London", "GBP").id


@pytest.fixture
def admin(app: Flask, client: FlaskClient, school: uuid.UUID) -> dict[str, str]:
    return auth_headers(client, make_user(app, school, "admin", email="head@example.org"))


def _new_user(password: str | None = None) -> dict[str, Any]:
    invite = {"password": password} if password is not None else {"invite": True}
    return {"email": EMAIL, "full_name": NAME, "role": "teacher", **invite}


def _assert_refused(response: Any, password: str, field: str = "body.password") -> str:
    """A 422 on `field` of type password_policy whose message says what to do; the message."""
    assert response.status_code == 422, response.get_json()
    [error] = response.get_json()["errors"]
    assert (error["field"], error["type"]) == (field, "password_policy")
    assert ADVICE in error["message"]
    assert password not in response.get_data(as_text=True)
    return str(error["message"])


def _users_named(app: Flask, email: str) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(User).where(User.email == email)) or 0)


def _password_hash(app: Flask, email: str) -> str:
    with app.app_context():
        return str(db.session.scalar(select(User.password_hash).where(User.email == email)))


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_and_patterns_are_refused_with_advice(
    app: Flask, client: FlaskClient, admin: dict[str, str], password: str
) -> None:
    response = client.post("/api/users", json=_new_user(password), headers=admin)
    _assert_refused(response, password)
    assert _users_named(app, EMAIL) == 0


@pytest.mark.parametrize("password", PERSONAL.values(), ids=PERSONAL.keys())
def test_the_persons_own_words_are_refused(
    app: Flask, client: FlaskClient, admin: dict[str, str], password: str
) -> None:
    message = _assert_refused(client.post("/api/users", json=_new_user(password), headers=admin), password)
    assert OWN_WORDS in message and "leave those out" in message
    assert _users_named(app, EMAIL) == 0
    # Nothing wrong with it for someone else, in another school: it was the person's own words.
    other = make_user(app, make_school(app), "teacher", email="someone@example.org", password=password)
    assert login(app.test_client(), other)["user"]["email"] == "someone@example.org"


@pytest.mark.parametrize("password", STRONG)
def test_long_passphrases_are_accepted(
    app: Flask, client: FlaskClient, admin: dict[str, str], password: str
) -> None:
    created = client.post("/api/users", json=_new_user(password), headers=admin)
    assert created.status_code == 201, created.get_json()
    signed_in = client.post("/api/auth/login", json={"email": EMAIL, "password": password})
    assert signed_in.status_code == 200


def test_an_invitation_link_cannot_set_a_weak_password(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    user_id = uuid.UUID(client.post("/api/users", json=_new_user(), headers=admin).get_json()["id"])
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.user_id == user_id)
            .values(token_hash=hash_secret_token(TOKEN))
        )
        db.session.commit()
    accept = "/api/auth/invitations/accept"
    for weak in ("password123456", PERSONAL["name_and_digits"]):
        _assert_refused(client.post(accept, json={"token": TOKEN, "password": weak}), weak)
    assert OWN_WORDS in _assert_refused(
        client.post(accept, json={"token": TOKEN, "password": PERSONAL["school_name_and_123"]}),
        PERSONAL["school_name_and_123"],
    )
    assert _password_hash(app, EMAIL) == "!invited"
    signed_in = client.post(accept, json={"token": TOKEN, "password": STRONG[0]})  # the link still works
    assert signed_in.status_code == 200, signed_in.get_json()


def _reset_link(app: Flask, account: Account) -> None:
    with app.app_context():
        request = PasswordResetRequest(email=account.email, requested_at=utcnow(), processed_at=utcnow())
        db.session.add(request)
        db.session.flush()
        db.session.add(
            PasswordResetToken(
                user_id=account.user_id,
                request_id=request.id,
                token_hash=hash_secret_token(TOKEN),
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(minutes=30),
            )
        )
        db.session.commit()


def test_a_reset_link_cannot_set_a_weak_password(app: Flask, client: FlaskClient, school: uuid.UUID) -> None:
    account = make_user(app, school, "parent", email=EMAIL, full_name=NAME)
    _reset_link(app, account)
    confirm = "/api/auth/password-reset/confirm"
    _assert_refused(client.post(confirm, json={"token": TOKEN, "password": "Password2024"}), "Password2024")
    personal = PERSONAL["email_local_part_and_year"]
    message = _assert_refused(client.post(confirm, json={"token": TOKEN, "password": personal}), personal)
    assert OWN_WORDS in message
    assert login(client, account)["user"]["email"] == EMAIL  # the old password still works
    assert client.post(confirm, json={"token": TOKEN, "password": STRONG[2]}).status_code == 204


def _change(client: FlaskClient, account: Account, new: str) -> Any:
    access = login(client, account)["access_token"]
    body = {"current_password": PASSWORD, "new_password": new}
    return client.post("/api/auth/password", headers=bearer(access), json=body)


@pytest.mark.parametrize("password", ["password123456", "Summer2024!!"])
def test_a_password_change_is_held_to_the_rule(
    app: Flask, client: FlaskClient, school: uuid.UUID, password: str
) -> None:
    account = make_user(app, school, "teacher", email=EMAIL, full_name=NAME)
    before = _password_hash(app, EMAIL)
    _assert_refused(_change(client, account, password), password, field="body.new_password")
    assert _password_hash(app, EMAIL) == before


def test_a_password_change_cannot_use_the_users_own_words(
    app: Flask, client: FlaskClient, school: uuid.UUID
) -> None:
    account = make_user(app, school, "teacher", email=EMAIL, full_name=NAME)
    personal = PERSONAL["school_name_and_123"]
    assert OWN_WORDS in _assert_refused(_change(client, account, personal), personal, "body.new_password")


def _run(app: Flask, *args: str, password: str) -> Any:
    return app.test_cli_runner().invoke(args=[*args, "--password-stdin"], input=f"{password}\n")


def test_the_commands_hold_passwords_to_the_rule(app: Flask, school: uuid.UUID) -> None:
    create = ["users", "create", "--school", SLUG, "--email", EMAIL, "--full-name", NAME, "--role", "admin"]
    for weak in ("password123456", PERSONAL["school_name_and_123"]):
        refused = _run(app, *create, password=weak)
        assert refused.exit_code == 1 and "password:" in refused.output and ADVICE in refused.output
        assert weak not in refused.output
    assert _users_named(app, EMAIL) == 0
    operator = ["users", "create-operator", "--email", "ops@example.org", "--full-name", "Olu Ops"]
    refused = _run(app, *operator, password="Homeroom2026!")  # the service's own name
    assert refused.exit_code == 1 and OWN_WORDS in refused.output
    assert _users_named(app, "ops@example.org") == 0

    assert _run(app, *create, password=STRONG[0]).exit_code == 0
    before = _password_hash(app, EMAIL)
    set_password = ["users", "set-password", "--email", EMAIL]
    refused = _run(app, *set_password, password=PERSONAL["email_local_part_and_year"])
    assert refused.exit_code == 1 and OWN_WORDS in refused.output
    assert _password_hash(app, EMAIL) == before
    assert _run(app, *set_password, password=STRONG[1]).exit_code == 0
    assert _password_hash(app, EMAIL) != before
