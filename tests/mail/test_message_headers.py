"""What a mail provider and a mail client see: every kind of message, parsed from the bytes the SMTP
server received with Python's `email` parser, has a Date and its own Message-ID with a domain; the
optional kinds carry a plain `List-Unsubscribe: <https://...>` and the RFC 8058 one-click header;
and every link in a body opens a page of the web app whose API call answers."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail import outbox
from backend.mail.models import MailKind, OutboxMessage
from backend.mail.templates import Rendered
from tests.conftest import AppFactory
from tests.mail.conftest import BASE_URL, deliver, mail_settings
from tests.mail.smtp_server import SMTPServer
from tests.mail.test_notifications import TODAY, finance_link, invoice, mark, remind
from tests.school import World

INVITEE_EMAIL = "nia.newton@example.org"
INVITEE = {"email": INVITEE_EMAIL, "full_name": "Nia Newton", "role": "teacher", "invite": True}
# Each kind's page in the web app (APP_BASE_URL + path), which its links open.
PAGES = {
    "invitation": "invitation",
    "password_reset": "reset-password",
    "absence_alert": "unsubscribe",
    "fee_reminder": "unsubscribe",
}
OPTIONAL = ("absence_alert", "fee_reminder")
TOKEN = r"[A-Za-z0-9_.\-]+"


def parse(raw: bytes) -> EmailMessage:
    """The message as a mail provider reads it."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def kind_of(message: EmailMessage) -> str:
    subject = str(message["Subject"])
    if subject.startswith("You are invited"):
        return "invitation"
    if subject.startswith("Reset your"):
        return "password_reset"
    return "absence_alert" if "was marked" in subject else "fee_reminder"


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, subtype
    return str(part.get_content())


@dataclass
class Delivered:
    messages: dict[str, EmailMessage]
    raw: dict[str, bytes]
    started: datetime
    finished: datetime


@pytest.fixture
def every_kind(world: World, smtp: SMTPServer) -> Delivered:
    """One message of each kind: an invitation, a password reset, an absence alert, a fee reminder."""
    started = utcnow().replace(microsecond=0)
    assert world.client.post("/api/users", json=INVITEE, headers=world.as_("admin")).status_code == 201
    reset = world.client.post("/api/auth/password-reset", json={"email": world.accounts["admin"].email})
    assert reset.status_code == 202
    finance_link(world)
    mark(world, "absent")
    invoice(world, "alice", "F-1", TODAY + timedelta(days=3))
    remind(world)
    deliver(world.app)
    finished = utcnow()
    messages = {kind_of(parse(r.raw)): parse(r.raw) for r in smtp.received}
    raw = {kind_of(parse(r.raw)): r.raw for r in smtp.received}
    assert sorted(messages) == sorted(PAGES) and len(smtp.received) == 4
    return Delivered(messages, raw, started, finished)


def test_every_message_has_a_date_and_its_own_message_id(every_kind: Delivered) -> None:
    for kind, message in every_kind.messages.items():
        date = message["Date"]
        assert date is not None, kind
        assert not date.defects and date.datetime.tzinfo is not None, (kind, str(date))
        assert every_kind.started <= date.datetime <= every_kind.finished, (kind, str(date))
        message_id = message["Message-ID"]
        assert message_id is not None and not message_id.defects, kind
        assert re.fullmatch(r"<[A-Za-z0-9.\-]+@homeroom\.test>", str(message_id)), str(message_id)
    assert len({str(m["Message-ID"]) for m in every_kind.messages.values()}) == 4


def test_optional_kinds_carry_a_plain_one_click_unsubscribe(every_kind: Delivered) -> None:
    for kind in OPTIONAL:
        raw_headers = dict(every_kind.messages[kind].raw_items())
        listed = str(raw_headers["List-Unsubscribe"])
        assert "=?" not in listed, listed  # not RFC 2047-encoded: clients ignore that
        assert re.fullmatch(rf"<{re.escape(BASE_URL)}/api/notifications/unsubscribe\?token={TOKEN}>", listed)
        assert raw_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for kind in ("invitation", "password_reset"):  # answers to something asked for: no unsubscribing
        assert "List-Unsubscribe" not in every_kind.messages[kind], kind
        assert "List-Unsubscribe-Post" not in every_kind.messages[kind], kind
    for raw in every_kind.raw.values():  # RFC 5322: no line over 998 characters
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_every_link_opens_a_web_app_page_whose_api_call_answers(world: World, every_kind: Delivered) -> None:
    tokens: dict[str, str] = {}
    for kind, message in every_kind.messages.items():
        text_links = re.findall(r"https?://\S+", body(message, "plain"))
        html_links = re.findall(r'href="([^"]+)"', body(message, "html"))
        assert text_links == html_links and len(text_links) == 1, (kind, text_links, html_links)
        found = re.fullmatch(rf"{re.escape(BASE_URL)}/{PAGES[kind]}\?token=({TOKEN})", text_links[0])
        assert found, (kind, text_links[0])
        tokens[kind] = found[1]
    accept = {"token": tokens["invitation"], "password": "a-brand-new-passphrase-9"}
    assert world.client.post("/api/auth/invitations/accept", json=accept).status_code == 200
    confirm = {"token": tokens["password_reset"], "password": "reset-to-this-passphrase-4"}
    assert world.client.post("/api/auth/password-reset/confirm", json=confirm).status_code == 204
    for kind in OPTIONAL:
        done = world.client.post(f"/api/notifications/unsubscribe?token={tokens[kind]}")
        assert done.status_code == 200 and done.get_json() == {"kind": kind, "enabled": False}
    choices = world.client.get("/api/me/notifications", headers=world.as_("parent")).get_json()
    assert choices == {
        "absence_alert": False,
        "fee_reminder": False,
        "report_card": True,
        "urgent_announcement": True,
        "announcement": False,
    }


def test_a_retried_message_keeps_its_message_id(make_app: AppFactory, smtp: SMTPServer) -> None:
    """The server took the message in but answered with a failure: the copy sent again has the same
    Message-ID, so the recipient's mail system can tell it is one message."""
    app = make_app(**mail_settings(smtp, OUTBOX_BACKOFF_SECONDS=600, OUTBOX_BACKOFF_MAX_SECONDS=600))
    with app.app_context():
        mail = Rendered("Once", "Body\n", "<p>Body</p>")
        outbox.enqueue(MailKind.INVITATION, outbox.Recipient(INVITEE_EMAIL), "retried:1", mail)
        db.session.commit()
    smtp.refuse_after_data = 1
    assert deliver(app).failed == 1
    with app.app_context():  # its back-off is over
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
    assert deliver(app).sent == 1
    first, second = (parse(r.raw) for r in smtp.to(INVITEE_EMAIL))
    assert str(first["Message-ID"]) == str(second["Message-ID"])
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["sent"]
