"""Announcements by email, through the outbox to a real SMTP server: urgent ones to everyone in the
audience who has not turned them off (one email per person, whatever their number of children),
the others only to those who turned them on; never to inactive users or another school's;
withdrawing one before the sender runs cancels its emails."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from flask import Flask
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.config import SETTINGS_EXTENSION
from backend.core.extensions import db
from backend.jobs.runner import Runner
from backend.mail.models import OutboxMessage
from backend.schools import School
from backend.tenancy import platform_access
from tests.announcements.helpers import BASE, announce, run_jobs, titles, unread
from tests.conftest import auth_headers, make_user
from tests.mail.conftest import BASE_URL, link_token
from tests.mail.smtp_server import SMTPServer
from tests.school import World, _student

BODY = "Bring **a towel** and [the form](https://example.org/form).\n\n<script>alert('towel')</script>"
ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}
DEFAULTS = {
    "absence_alert": True,
    "fee_reminder": True,
    "report_card": True,
    "urgent_announcement": True,
    "announcement": False,
}


def school_name(world: World, who: str = "admin") -> str:
    with world.app.app_context():
        name = db.session.scalar(select(School.name).where(School.id == world.accounts[who].school_id))
    assert name
    return name


def new_guardian(world: World, name: str, student: str, admin: str = "admin") -> None:
    """A new parent account `name` (in `admin`'s school), guardian of `student`."""
    school = world.accounts[admin].school_id
    world.accounts[name] = make_user(world.app, school, "parent", full_name=name.title())
    world.headers[name] = auth_headers(world.client, world.accounts[name])
    link = {"user_id": str(world.accounts[name].user_id), "relationship": "guardian"}
    world.post(admin, f"/api/students/{world.ids[student]}/guardians", link)


def link(world: World, who: str, student: str) -> None:
    body = {"user_id": str(world.accounts[who].user_id), "relationship": "mother"}
    world.post("admin", f"/api/students/{world.ids[student]}/guardians", body)


def pupil_in_maths(world: World, key: str, number: str) -> None:
    world.ids[key] = uuid.UUID(
        world.post("admin", "/api/students", _student(number, key.title(), "Test"))["id"]
    )
    enrol = {"student_id": str(world.ids[key])}
    world.post("admin", f"/api/classes/{world.ids['maths']}/enrollments", enrol)


def inbox(world: World, smtp: SMTPServer) -> dict[str, list[str]]:
    """Each account's emails, by subject (in the order they came)."""
    names = {account.email: name for name, account in world.accounts.items()}
    found: dict[str, list[str]] = defaultdict(list)
    for mail in smtp.received:
        for address in mail.recipients:
            found[names.get(address, address)].append(mail.message["Subject"])
    return dict(found)


def choices(world: World, who: str) -> dict[str, bool]:
    response = world.client.get("/api/me/notifications", headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def to_maths(world: World, **fields: Any) -> dict[str, Any]:
    body = {"title": "Pool closed", "body": BODY, "urgent": True, "audience": "class"} | fields
    return announce(world, "teacher", class_id=str(world.ids["maths"]), **body)


def test_an_urgent_class_announcement_emails_each_guardian_once(world: World, smtp: SMTPServer) -> None:
    pupil_in_maths(world, "dan", "A-003")
    link(world, "parent", "dan")  # `parent` has Alice and Dan in Maths
    new_guardian(world, "carer", "dan")
    posted = to_maths(world)
    assert posted["recipient_count"] == 2
    run_jobs(world.app)
    subject = f"Urgent from {school_name(world)}: Pool closed"
    assert inbox(world, smtp) == {"parent": [subject], "carer": [subject]}
    mail = smtp.to(world.accounts["parent"].email)[0]
    assert "Bring **a towel** and [the form](https://example.org/form)." in mail.text
    assert "Hello Test Parent" in mail.text and f"{BASE_URL}/announcements/{posted['id']}" in mail.text
    assert "<strong>a towel</strong>" in mail.html and 'href="https://example.org/form"' in mail.html
    assert "<script" not in mail.html.lower() and "Pool closed" in mail.html
    assert mail.message["List-Unsubscribe"].startswith(f"<{BASE_URL}/api/notifications/unsubscribe?token=")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link_token(mail.text, "unsubscribe") in mail.message["List-Unsubscribe"]

    one_click = mail.message["List-Unsubscribe"].strip("<>").removeprefix(BASE_URL)
    done = world.client.post(one_click, **ONE_CLICK)  # the mail provider's one-click (RFC 8058)
    assert done.status_code == 200 and done.get_json() == {"kind": "urgent_announcement", "enabled": False}
    assert choices(world, "parent") == DEFAULTS | {"urgent_announcement": False}
    assert choices(world, "carer") == DEFAULTS
    to_maths(world, title="Pool open again")
    run_jobs(world.app)
    again = f"Urgent from {school_name(world)}: Pool open again"
    assert inbox(world, smtp) == {"parent": [subject], "carer": [subject, again]}
    assert titles(world, "parent") == ["Pool open again", "Pool closed"]  # still in the feed


def test_other_announcements_are_emailed_only_to_those_who_ask(world: World, smtp: SMTPServer) -> None:
    assert choices(world, "parent") == DEFAULTS
    announce(world, title="Bake sale", audience="parents")
    run_jobs(world.app)
    assert smtp.received == [] and titles(world, "parent") == ["Bake sale"]
    turned_on = world.client.patch(
        "/api/me/notifications", json={"announcement": True}, headers=world.as_("parent")
    )
    assert turned_on.status_code == 200 and turned_on.get_json() == DEFAULTS | {"announcement": True}
    announce(world, title="Book fair", body="In the **hall**.", audience="school")
    run_jobs(world.app)
    assert inbox(world, smtp) == {"parent": [f"{school_name(world)}: Book fair"]}  # not the bake sale
    [mail] = smtp.received
    assert "In the **hall**." in mail.text and "<strong>hall</strong>" in mail.html
    one_click = mail.message["List-Unsubscribe"].strip("<>").removeprefix(BASE_URL)
    done = world.client.post(one_click)  # the web app's unsubscribe page
    assert done.status_code == 200 and done.get_json() == {"kind": "announcement", "enabled": False}
    announce(world, title="Disco", audience="parents")
    run_jobs(world.app)
    assert len(smtp.received) == 1 and choices(world, "parent") == DEFAULTS


def deactivate(world: World, who: str) -> None:
    response = world.client.patch(
        f"/api/users/{world.accounts[who].user_id}", json={"is_active": False}, headers=world.as_("admin")
    )
    assert response.status_code == 200, response.get_json()


def test_inactive_users_and_other_schools_never_get_mail_and_staff_is_staff(
    world: World, smtp: SMTPServer
) -> None:
    new_guardian(world, "zed_parent", "foreign", admin="other_school_admin")
    new_guardian(world, "bob_parent", "bob")
    deactivate(world, "other_parent")
    deactivate(world, "other_teacher")
    ours = school_name(world)
    announce(world, title="Flood", urgent=True, audience="school")
    announce(world, title="Staff meeting", urgent=True, audience="staff")
    announce(world, title="Year 5 trip", urgent=True, audience="year", grade_level=5)
    run_jobs(world.app)
    flood, staff, year = (f"Urgent from {ours}: {t}" for t in ("Flood", "Staff meeting", "Year 5 trip"))
    assert inbox(world, smtp) == {
        "admin": [flood, staff],
        "teacher": [flood, staff],
        "parent": [flood, year],
        "bob_parent": [flood, year],
    }
    announce(world, "other_school_admin", title="B closed", urgent=True, audience="school")
    run_jobs(world.app)
    theirs = f"Urgent from {school_name(world, 'other_school_admin')}: B closed"
    assert school_name(world, "other_school_admin") != ours
    assert {who: mails for who, mails in inbox(world, smtp).items() if theirs in mails} == {
        "other_school_admin": [theirs],
        "zed_parent": [theirs],
    }


def outbox_of(app: Flask, announcement: dict[str, Any]) -> list[str]:
    """The statuses of its emails in the outbox."""
    with app.app_context():
        keys = OutboxMessage.dedup_key.startswith(f"announcement:{announcement['id']}:")
        found = sorted(db.session.scalars(select(OutboxMessage.status).where(keys)))
        db.session.remove()
    return found


def _write_emails(app: Flask) -> None:
    """One round of the runner's jobs (the announcements' emails written), no mail sent."""
    with app.app_context(), platform_access("test runner"):
        Runner(app, app.extensions[SETTINGS_EXTENSION]).round()


def test_withdrawing_before_the_sender_runs_cancels_the_emails(world: World, smtp: SMTPServer) -> None:
    new_guardian(world, "carer", "alice")
    early = to_maths(world, title="Swimming")  # withdrawn before its emails were even written
    assert outbox_of(world.app, early) == [] and unread(world, "parent") == 1
    assert (
        world.client.post(f"{BASE}/{early['id']}/withdraw", headers=world.as_("teacher")).status_code == 200
    )
    posted = to_maths(world, title="Trip tomorrow")  # withdrawn once written, before they are sent
    _write_emails(world.app)
    assert outbox_of(world.app, posted) == ["queued", "queued"] and outbox_of(world.app, early) == []
    path = f"{BASE}/{posted['id']}/withdraw"
    response = world.client.post(path, headers=world.as_("teacher"))
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn", response.get_json()
    assert outbox_of(world.app, posted) == ["cancelled", "cancelled"]
    run_jobs(world.app)
    assert smtp.received == [] and outbox_of(world.app, early) == []
    assert titles(world, "parent") == [] and titles(world, "carer") == [] and unread(world, "parent") == 0
    again = world.client.post(path, headers=world.as_("teacher"))
    assert again.status_code == 200 and again.get_json()["status"] == "withdrawn"
    with world.app.app_context():
        changes = db.session.scalars(
            select(AuditEvent.changes).where(
                AuditEvent.action == "announcement.withdraw", AuditEvent.resource_id == posted["id"]
            )
        ).all()
    assert changes == [
        {"status": "published", "title": "Trip tomorrow", "recipients": 2, "read": 0, "emails_cancelled": 2}
    ]
