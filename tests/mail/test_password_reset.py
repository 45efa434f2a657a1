"""Self-service password reset: the same answer for any address, single-use expiring links, every
session ended, rate limits per client and per address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import event, update

from backend.auth.models import PasswordResetToken
from backend.core.extensions import db
from backend.core.models import utcnow
from tests.conftest import PASSWORD, AppFactory, auth_headers, login, make_school, make_user
from tests.mail.conftest import deliver, link_token, mail_settings
from tests.mail.smtp_server import SMTPServer
from tests.school import World

RESET = "/api/auth/password-reset"
NEW_PASSWORD = "reset-to-this-passphrase-4"


def request_reset(client: Any, email: str) -> Any:
    return client.post(RESET, json={"email": email})


def test_a_reset_email_works_once_and_ends_every_session(world: World, smtp: SMTPServer) -> None:
    parent = world.accounts["parent"]
    old_session = world.as_("parent")
    answer = request_reset(world.client, parent.email.upper())
    assert answer.status_code == 202 and answer.get_json() == {"status": "accepted"}
    deliver(world.app)
    (mail,) = smtp.to(parent.email)
    assert mail.message["Subject"] == "Reset your Homeroom password" and "30 minutes" in mail.text
    token = link_token(mail.text, "reset-password")
    done = world.client.post(f"{RESET}/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 204
    assert world.client.get("/api/auth/me", headers=old_session).status_code == 401
    assert (
        world.client.post("/api/auth/login", json={"email": parent.email, "password": PASSWORD}).status_code
        == 401
    )
    assert (
        world.client.post(
            "/api/auth/login", json={"email": parent.email, "password": NEW_PASSWORD}
        ).status_code
        == 200
    )
    again = world.client.post(
        f"{RESET}/confirm", json={"token": token, "password": "yet-another-passphrase-5"}
    )
    assert again.status_code == 400
    actions = [
        e["action"]
        for e in world.client.get("/api/audit-events?limit=200", headers=world.as_("admin")).get_json()[
            "items"
        ]
    ]
    assert {"auth.password_reset_requested", "auth.password_reset"} <= set(actions)


def test_an_unknown_address_gets_the_same_answer_and_no_email(world: World, smtp: SMTPServer) -> None:
    known = request_reset(world.client, world.accounts["parent"].email)
    unknown = request_reset(world.client, "nobody-here@example.org")
    assert (known.status_code, known.get_data()) == (unknown.status_code, unknown.get_data())
    assert known.headers["Content-Type"] == unknown.headers["Content-Type"]
    deliver(world.app)
    assert [r.recipients for r in smtp.received] == [[world.accounts["parent"].email]]


def test_both_answers_do_the_same_work(world: World) -> None:
    """No timing difference to measure: the request path runs the same SQL whether or not the
    address has an account (the lookup happens later, in the sender)."""

    def statements(email: str) -> list[str]:
        seen: list[str] = []
        with world.app.app_context():
            engine = db.engine

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert request_reset(world.client, email).status_code == 202
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return seen

    known, unknown = statements(world.accounts["parent"].email), statements("nobody-here@example.org")
    assert known == unknown and any("password_reset_requests" in s for s in known)
    assert not any("FROM users" in s for s in known)  # the address is not even looked up


def test_links_expire(world: World, smtp: SMTPServer) -> None:
    request_reset(world.client, world.accounts["teacher"].email)
    deliver(world.app)
    token = link_token(smtp.to(world.accounts["teacher"].email)[0].text, "reset-password")
    with world.app.app_context():
        db.session.execute(update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = world.client.post(f"{RESET}/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert expired.status_code == 400 and "expired" in expired.get_json()["detail"]


def test_the_policy_applies_and_a_refused_password_keeps_the_link(world: World, smtp: SMTPServer) -> None:
    request_reset(world.client, world.accounts["teacher"].email)
    deliver(world.app)
    token = link_token(smtp.to(world.accounts["teacher"].email)[0].text, "reset-password")
    weak = world.client.post(f"{RESET}/confirm", json={"token": token, "password": "password"})
    assert weak.status_code == 422
    assert (
        world.client.post(f"{RESET}/confirm", json={"token": token, "password": NEW_PASSWORD}).status_code
        == 204
    )


def test_requests_are_limited_per_client_and_per_address(make_app: AppFactory, smtp: SMTPServer) -> None:
    app: Flask = make_app(**mail_settings(smtp, PASSWORD_RESET_RATE_LIMIT="2 per minute"))
    client = app.test_client()
    for _ in range(2):
        assert request_reset(client, "someone@example.org").status_code == 202
    refused = request_reset(client, "someone@example.org")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    other_client = app.test_client()
    # Another client, the same address: the address's own limit still holds.
    refused_again = other_client.post(
        RESET, json={"email": "someone@example.org"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert refused_again.status_code == 429


def test_bad_bodies(world: World) -> None:
    for body in ({}, {"email": ""}, {"email": 5}, {"email": "a@b.org", "extra": 1}):
        assert world.client.post(RESET, json=body).status_code == 422
    assert (
        world.client.post(f"{RESET}/confirm", json={"token": "nope", "password": NEW_PASSWORD}).status_code
        == 400
    )


def test_inactive_accounts_get_no_email(make_app: AppFactory, smtp: SMTPServer) -> None:
    app = make_app(**mail_settings(smtp))
    school = make_school(app)
    admin, gone = make_user(app, school, "admin"), make_user(app, school, "teacher")
    client = app.test_client()
    client.patch(f"/api/users/{gone.user_id}", json={"is_active": False}, headers=auth_headers(client, admin))
    request_reset(client, gone.email)
    deliver(app)
    assert smtp.received == []
    assert login(client, admin)
