"""The one-click unsubscribe (RFC 8058) exactly as a mail provider sends it: a POST to the email's
`List-Unsubscribe` URL with the form body `List-Unsubscribe=One-Click`, no session, no token."""

from __future__ import annotations

import email
import email.policy
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.config import SETTINGS_EXTENSION
from backend.core.extensions import db
from backend.mail.models import MailKind, NotificationPreference
from backend.mail.templates import unsubscribe_token
from tests.mail.conftest import BASE_URL, deliver
from tests.mail.smtp_server import SMTPServer
from tests.mail.test_notifications import mark
from tests.school import World

FORM = "application/x-www-form-urlencoded"
ONE_CLICK = "List-Unsubscribe=One-Click"


def one_click_path(w: World, smtp: SMTPServer) -> str:
    """The path of the List-Unsubscribe URL of the parent's absence alert, read as a provider reads it."""
    mark(w, "absent")
    deliver(w.app)
    (received,) = smtp.to(w.accounts["parent"].email)
    message = email.message_from_bytes(received.raw, policy=email.policy.default)
    url = str(message["List-Unsubscribe"]).strip()
    assert url.startswith(f"<{BASE_URL}/") and url.endswith(">"), url
    return url[1:-1].removeprefix(BASE_URL)


def provider_post(client: FlaskClient, path: str, data: Any = ONE_CLICK, content_type: str = FORM) -> Any:
    return client.post(path, data=data, content_type=content_type)


def choices(w: World) -> dict[str, bool]:
    """The parent's rows in the database: kind -> enabled (no row: the default, on)."""
    with w.app.app_context():
        rows = db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.enabled).where(
                NotificationPreference.user_id == w.accounts["parent"].user_id
            )
        )
        return dict(rows.all())


def unsubscribe_events(w: World) -> int:
    """The parent's `notifications.unsubscribe` audit events (the trail outlives each test)."""
    with w.app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "notifications.unsubscribe",
                    AuditEvent.actor_id == w.accounts["parent"].user_id,
                )
            )
            or 0
        )


def test_a_providers_one_click_post_unsubscribes_once(world: World, smtp: SMTPServer) -> None:
    path = one_click_path(world, smtp)
    assert choices(world) == {}
    done = provider_post(world.client, path)
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"kind": "absence_alert", "enabled": False}
    assert choices(world) == {"absence_alert": False} and unsubscribe_events(world) == 1
    again = provider_post(world.client, path)  # providers retry: the same answer, nothing more
    assert again.status_code == 200 and again.get_json() == done.get_json()
    assert choices(world) == {"absence_alert": False} and unsubscribe_events(world) == 1
    mine = world.client.get("/api/me/notifications", headers=world.as_("parent")).get_json()
    assert mine == {
        "absence_alert": False,
        "fee_reminder": True,
        "report_card": True,
        "urgent_announcement": True,
        "announcement": False,
    }


def test_the_web_apps_page_posts_the_same_url_without_a_body(world: World, smtp: SMTPServer) -> None:
    path = one_click_path(world, smtp)
    done = world.client.post(path)
    assert done.status_code == 200 and done.get_json() == {"kind": "absence_alert", "enabled": False}
    assert choices(world) == {"absence_alert": False}


def test_a_bad_signature_changes_nothing(world: World, smtp: SMTPServer) -> None:
    path = one_click_path(world, smtp)
    payload, signature = path.partition("token=")[2].rsplit(".", 1)
    tampered = f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"  # another signature
    settings = world.app.extensions[SETTINGS_EXTENSION]
    nobody = unsubscribe_token(settings, str(uuid.uuid4()), MailKind.ABSENCE_ALERT)  # no such user
    parent = str(world.accounts["parent"].user_id)
    required = unsubscribe_token(settings, parent, MailKind.PASSWORD_RESET)  # not a kind one can turn off
    for bad in (tampered, "forged.token", nobody, required):
        refused = provider_post(world.client, f"/api/notifications/unsubscribe?token={bad}")
        assert refused.status_code == 400, bad
        assert refused.headers["Content-Type"] == "application/problem+json"
    assert provider_post(world.client, "/api/notifications/unsubscribe").status_code == 422  # no token
    assert choices(world) == {} and unsubscribe_events(world) == 0


def test_only_the_one_click_body_is_taken(world: World, smtp: SMTPServer) -> None:
    path = one_click_path(world, smtp)
    other_form = provider_post(world.client, path, data="List-Unsubscribe=Maybe")
    assert other_form.status_code == 400 and other_form.get_json()["code"] == "bad_request"
    as_json = world.client.post(path, json={"List-Unsubscribe": "One-Click"})
    assert as_json.status_code == 415 and as_json.get_json()["code"] == "unsupported_media_type"
    as_text = provider_post(world.client, path, content_type="text/plain")
    assert as_text.status_code == 415
    assert choices(world) == {} and unsubscribe_events(world) == 0
