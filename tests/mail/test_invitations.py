"""Invitations: an admin invites, the email's link sets the password once, within 72 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from backend.auth.models import Invitation
from backend.core.extensions import db
from backend.core.models import utcnow
from tests.mail.conftest import BASE_URL, deliver, link_token
from tests.mail.smtp_server import SMTPServer
from tests.school import World

NEW_PASSWORD = "a-brand-new-passphrase-9"
INVITEE = {"email": "new.teacher@example.org", "full_name": "Nia Newton", "role": "teacher", "invite": True}


def invite(w: World, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = w.client.post("/api/users", json=body or INVITEE, headers=w.as_("admin"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def accept(w: World, token: str, password: str = NEW_PASSWORD) -> Any:
    return w.client.post("/api/auth/invitations/accept", json={"token": token, "password": password})


def test_an_invited_user_chooses_a_password_and_is_signed_in(world: World, smtp: SMTPServer) -> None:
    user = invite(world)
    assert world.client.post(
        "/api/auth/login", json={"email": INVITEE["email"], "password": ""}
    ).status_code in (401, 422)
    deliver(world.app)
    (mail,) = smtp.to(INVITEE["email"])
    assert "You are invited to School" in mail.message["Subject"] and "Nia Newton" in mail.text
    assert "teacher" in mail.text and "72 hours" in mail.text and f"{BASE_URL}/invitation?token=" in mail.html
    token = link_token(mail.text, "invitation")
    signed_in = accept(world, token)
    assert signed_in.status_code == 200 and signed_in.get_json()["user"]["id"] == user["id"]
    assert "homeroom_refresh" in signed_in.headers["Set-Cookie"]
    login = {"email": INVITEE["email"], "password": NEW_PASSWORD}
    assert world.client.post("/api/auth/login", json=login).status_code == 200
    again = accept(world, token, "another-passphrase-77")
    assert again.status_code == 400 and again.get_json()["code"] == "bad_request"
    events = [
        e["action"]
        for e in world.client.get("/api/audit-events?limit=200", headers=world.as_("admin")).get_json()[
            "items"
        ]
    ]
    assert {"user.invite", "auth.invitation_accept"} <= set(events)


def test_links_expire_and_resending_replaces_them(world: World, smtp: SMTPServer) -> None:
    user = invite(world)
    deliver(world.app)
    first = link_token(smtp.to(INVITEE["email"])[0].text, "invitation")
    resent = world.client.post(f"/api/users/{user['id']}/invitation", headers=world.as_("admin"))
    assert resent.status_code == 201
    deliver(world.app)
    assert len(smtp.to(INVITEE["email"])) == 2
    second = link_token(smtp.to(INVITEE["email"])[1].text, "invitation")
    assert accept(world, first).status_code == 400  # replaced
    with world.app.app_context():
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert accept(world, second).status_code == 400  # expired


def test_revoking_and_the_rules_around_it(world: World, smtp: SMTPServer) -> None:
    user = invite(world)
    deliver(world.app)
    token = link_token(smtp.to(INVITEE["email"])[0].text, "invitation")
    path = f"/api/users/{user['id']}/invitation"
    assert world.client.delete(path, headers=world.as_("teacher")).status_code == 403
    assert world.client.delete(path, headers=world.as_("other_school_admin")).status_code == 404
    assert world.client.delete(path, headers=world.as_("admin")).status_code == 204
    assert world.client.delete(path, headers=world.as_("admin")).status_code == 404  # nothing pending
    assert accept(world, token).status_code == 400
    settled = world.accounts["teacher"].user_id  # has a password already
    assert (
        world.client.post(f"/api/users/{settled}/invitation", headers=world.as_("admin")).status_code == 409
    )


def test_bad_requests(world: World, smtp: SMTPServer) -> None:
    both = {**INVITEE, "password": NEW_PASSWORD}
    neither = {key: value for key, value in INVITEE.items() if key != "invite"}
    for body in (both, neither):
        assert world.client.post("/api/users", json=body, headers=world.as_("admin")).status_code == 422
    invite(world)
    deliver(world.app)
    token = link_token(smtp.to(INVITEE["email"])[0].text, "invitation")
    weak = accept(world, token, "short")
    assert weak.status_code == 422 and weak.get_json()["errors"][0]["field"] == "body.password"
    assert accept(world, "not-a-token").status_code == 400
    assert world.client.post("/api/auth/invitations/accept", json={"token": token}).status_code == 422
    assert accept(world, token).status_code == 200  # the weak attempt did not use the link up


def test_a_failed_invitation_sends_nothing(world: World, smtp: SMTPServer) -> None:
    taken = {**INVITEE, "email": world.accounts["teacher"].email}
    assert world.client.post("/api/users", json=taken, headers=world.as_("admin")).status_code == 409
    deliver(world.app)
    assert smtp.received == []
