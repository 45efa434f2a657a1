"""A request that read a scheduled announcement, racing a runner that publishes it meanwhile (in
another process): a withdrawal still takes it out of every feed and cancels its emails, an edit is
refused as for any published one, "publish now" says what happened. And a subject that user text
makes too long for the outbox is shortened, not a failure."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.announcements import authoring
from backend.config import SETTINGS_EXTENSION
from backend.core.extensions import db
from backend.jobs.runner import Runner
from backend.schools.service import create_school
from backend.tenancy import platform_access
from tests.announcements.helpers import BASE, run_jobs, titles, unread
from tests.announcements.test_scheduling import read, recipients, to_class, wait_until_due
from tests.conftest import AppFactory, auth_headers, make_user
from tests.mail.conftest import mail_settings
from tests.mail.smtp_server import SMTPServer
from tests.school import World


def _runner_publishes_after_the_read(monkeypatch: pytest.MonkeyPatch, other: Flask) -> None:
    real_get = authoring.get

    def get_then_the_job_runs(auth: Any, announcement_id: Any) -> Any:
        found = real_get(auth, announcement_id)  # the request reads it: scheduled
        with other.app_context(), platform_access("another runner"):  # meanwhile another process's
            assert Runner(other, other.extensions[SETTINGS_EXTENSION]).round() == 1  # runner publishes it
        return found

    monkeypatch.setattr(authoring, "get", get_then_the_job_runs)


def _raced(world: World, smtp: SMTPServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    other = make_app(**mail_settings(smtp))
    posted = to_class(world, urgent=True)
    wait_until_due(posted)
    _runner_publishes_after_the_read(monkeypatch, other)
    return posted


def test_a_withdrawal_racing_the_runner_still_takes_it_back(
    world: World, smtp: SMTPServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = _raced(world, smtp, make_app, monkeypatch)
    response = world.client.post(f"{BASE}/{posted['id']}/withdraw", headers=world.as_("teacher"))
    monkeypatch.undo()
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    assert read(world, posted)["status"] == "withdrawn"
    assert recipients(world.app, posted) == []
    assert titles(world, "parent") == [] and unread(world, "parent") == 0
    run_jobs(world.app)
    assert smtp.received == []  # the runner queued the email, the withdrawal cancelled it
    events = world.client.get(
        "/api/audit-events", query_string={"resource_id": posted["id"]}, headers=world.as_("admin")
    ).get_json()["items"]
    withdrawal = next(event for event in events if event["action"] == "announcement.withdraw")
    assert withdrawal["changes"]["status"] == "published" and withdrawal["changes"]["recipients"] == 1


def test_an_edit_racing_the_runner_is_refused_like_any_after_publishing(
    world: World, smtp: SMTPServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = _raced(world, smtp, make_app, monkeypatch)
    response = world.client.patch(
        f"{BASE}/{posted['id']}", json={"title": "Changed after publishing"}, headers=world.as_("teacher")
    )
    monkeypatch.undo()
    assert response.status_code == 409, response.get_json()
    assert titles(world, "parent") == ["Maths trip"]


def test_publish_now_racing_the_runner_says_it_was_published(
    world: World, smtp: SMTPServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = _raced(world, smtp, make_app, monkeypatch)
    response = world.client.post(f"{BASE}/{posted['id']}/publish", headers=world.as_("teacher"))
    monkeypatch.undo()
    assert response.status_code == 409
    assert response.get_json()["detail"] == "This announcement is published, not scheduled."
    assert titles(world, "parent") == ["Maths trip"]


def _long_named_school(app: Flask) -> tuple[FlaskClient, dict[str, str]]:
    with app.app_context():
        school = create_school(
            "The " + "Long-Named " * 9 + "Academy", "long-named", "Europe/London", "GBP"
        ).id
        db.session.commit()
    client = app.test_client()
    return client, auth_headers(client, make_user(app, school, "admin"))


def test_a_long_school_name_and_title_make_a_shortened_subject(app: Flask, smtp: SMTPServer) -> None:
    client, headers = _long_named_school(app)
    body = {"title": "Closure " + "T" * 180 + " end", "body": "x", "audience": "staff", "urgent": True}
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    run_jobs(app)
    (message,) = smtp.received
    subject = str(message.message["Subject"]).replace("\n", "").replace("\r", "")
    assert subject.startswith("Urgent from The Long-Named") and subject.endswith("\u2026")
    assert len(subject) <= 300
