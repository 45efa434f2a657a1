"""The outbox and its sender against a real SMTP server: nothing sent for a rolled-back change,
nothing lost while the server is down, nothing sent twice, several senders sharing the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.config import PROJECT_ROOT, SETTINGS_EXTENSION
from backend.core.extensions import db
from backend.mail import outbox
from backend.mail.models import MailKind, MailStatus, OutboxMessage
from backend.mail.sender import Sender
from backend.mail.templates import Rendered
from tests.conftest import AppFactory, base_config
from tests.mail.conftest import deliver, mail_settings
from tests.mail.smtp_server import SMTPServer, self_signed


def queue(app: Flask, count: int, prefix: str = "test") -> None:
    with app.app_context():
        for n in range(count):
            mail = Rendered(f"Message {n}", f"Body {n}\n", f"<p>Body {n}</p>")
            recipient = outbox.Recipient(f"person{n}@example.org")
            outbox.enqueue(MailKind.INVITATION, recipient, f"{prefix}:{n}", mail)
        db.session.commit()


def statuses(app: Flask) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return dict(rows.all())


def test_a_message_arrives_with_both_parts(app: Flask, smtp: SMTPServer) -> None:
    queue(app, 1)
    assert deliver(app).sent == 1
    (received,) = smtp.received
    assert received.recipients == ["person0@example.org"] and received.sender == "no-reply@homeroom.test"
    assert received.message["Subject"] == "Message 0" and received.message["Message-ID"]
    assert received.text.strip() == "Body 0" and "<p>Body 0</p>" in received.html
    with app.app_context():
        sent = db.session.scalars(select(OutboxMessage)).one()
        assert (sent.status, sent.attempts, sent.text_body) == ("sent", 1, "")  # content dropped once sent


def test_a_message_that_cannot_be_composed_is_dead_and_the_sender_goes_on(
    app: Flask, smtp: SMTPServer
) -> None:
    """A header Python's email library refuses (a line separator in the subject) is no reason to
    retry, nor to stop the sender with every other message behind it."""
    with app.app_context():
        broken = Rendered("Closed\u2028Bcc: someone@example.org", "Body\n", None)
        outbox.enqueue(MailKind.INVITATION, outbox.Recipient("first@example.org"), "broken:1", broken)
        db.session.commit()
    queue(app, 2)
    totals = deliver(app)
    assert (totals.sent, totals.failed) == (2, 1)
    assert sorted(m.recipients[0] for m in smtp.received) == ["person0@example.org", "person1@example.org"]
    with app.app_context():
        dead = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == "broken:1")).one()
        assert (dead.status, dead.attempts) == ("dead", 1) and dead.last_error.startswith(
            "cannot be composed"
        )


def test_a_rolled_back_change_sends_nothing(app: Flask, smtp: SMTPServer) -> None:
    with app.app_context():
        outbox.enqueue(
            MailKind.INVITATION, outbox.Recipient("x@example.org"), "rolled:1", Rendered("s", "t", None)
        )
        db.session.rollback()
    assert deliver(app).sent == 0 and smtp.received == [] and statuses(app) == {}


def test_the_same_event_is_queued_once(app: Flask, smtp: SMTPServer) -> None:
    queue(app, 3, prefix="same")
    queue(app, 3, prefix="same")
    assert deliver(app).sent == 3
    queue(app, 3, prefix="same")  # already sent: still nothing new
    assert deliver(app).sent == 0 and len(smtp.received) == 3


def test_mail_waits_out_an_outage_and_none_is_lost_or_doubled(app: Flask, smtp: SMTPServer) -> None:
    smtp.stop()
    queue(app, 5)
    totals = deliver(app, max_seconds=0.5, until_idle=False)
    assert totals.sent == 0 and totals.failed >= 5
    with app.app_context():
        waiting = db.session.scalars(select(OutboxMessage)).all()
        assert {m.status for m in waiting} == {"queued"} and all(m.last_error for m in waiting)
    smtp.start()
    deadline = time.monotonic() + 30
    while statuses(app).get("sent", 0) < 5 and time.monotonic() < deadline:
        deliver(app, max_seconds=1, until_idle=False)
    assert statuses(app) == {"sent": 5}
    assert sorted(r.recipients[0] for r in smtp.received) == [f"person{n}@example.org" for n in range(5)]


def test_a_message_is_dead_after_the_last_attempt(make_app: AppFactory, smtp: SMTPServer, logs: Any) -> None:
    app = make_app(**mail_settings(smtp, OUTBOX_MAX_ATTEMPTS=2))
    smtp.stop()
    queue(app, 1)
    deliver(app, max_seconds=2, until_idle=False)
    assert statuses(app) == {"dead": 1}
    assert any(line.get("event") == "mail_failed" and line.get("dead") for line in logs())
    health = app.test_client().get("/api/health").get_json()["components"]["mail"]
    assert health["status"] == "degraded" and health["dead"] == 1


def test_two_senders_at_once_deliver_each_message_exactly_once(app: Flask, smtp: SMTPServer) -> None:
    queue(app, 60)
    settings = app.extensions[SETTINGS_EXTENSION]
    senders = [Sender(app, settings) for _ in range(2)]
    for sender in senders:
        sender.name += f":{id(sender)}"
    threads = [
        threading.Thread(target=s.run, kwargs={"until_idle": True, "max_seconds": 60}) for s in senders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    recipients = [r.recipients[0] for r in smtp.received]
    assert len(recipients) == 60 and len(set(recipients)) == 60
    assert sum(s.totals.sent for s in senders) == 60 and statuses(app) == {"sent": 60}


def test_starttls_and_credentials_from_the_url(make_app: AppFactory, tmp_path: Any) -> None:
    server = SMTPServer(tls=self_signed(tmp_path), credentials=("mailer", "s3cret-pass"))
    server.start()
    try:
        app = make_app(
            **mail_settings(server, SMTP_STARTTLS="require", SMTP_CA_FILE=str(server.tls[0]))  # type: ignore[index]
        )
        queue(app, 1)
        assert deliver(app).sent == 1 and server.logins == ["mailer"] and len(server.received) == 1
        wrong_url = f"smtp://mailer:not-the-password@127.0.0.1:{server.port}"
        ca_file = str(tmp_path / "smtp.crt")
        wrong = make_app(
            **mail_settings(server, SMTP_CA_FILE=ca_file, SMTP_TIMEOUT=1) | {"SMTP_URL": wrong_url}
        )
        queue(wrong, 1, prefix="wrong")
        totals = deliver(wrong, max_seconds=0.3, until_idle=False)
        assert totals.sent == 0 and totals.failed >= 1
        with wrong.app_context():
            error = db.session.scalar(
                select(OutboxMessage.last_error).where(OutboxMessage.dedup_key == "wrong:0")
            )
        assert error and "not-the-password" not in error and len(server.received) == 1
    finally:
        server.stop()


def test_the_health_component_and_the_status_command(make_app: AppFactory, smtp: SMTPServer) -> None:
    quiet = make_app()  # no SMTP_URL
    queue(quiet, 2)
    health = quiet.test_client().get("/api/health").get_json()["components"]["mail"]
    assert health["status"] == "not_configured" and health["queued"] == 2 and not health["critical"]
    scrape = quiet.test_client().get("/metrics").get_data(as_text=True)
    assert 'homeroom_outbox_messages{status="queued"} 2.0' in scrape
    assert (
        'homeroom_outbox_messages{status="dead"} 0.0' in scrape
        and "homeroom_outbox_oldest_due_seconds" in scrape
    )
    output = quiet.test_cli_runner().invoke(args=["outbox", "status"]).output
    assert "queued" in output and "invitation 2" in output and "SMTP_URL is not set" in output
    # without mail the runner still runs background jobs (scheduled announcements), and sends nothing
    jobs_only = quiet.test_cli_runner().invoke(args=["outbox", "run", "--until-idle", "--max-seconds", "5"])
    assert jobs_only.exit_code == 0, jobs_only.output
    assert "SMTP_URL is not set: email stays queued" in jobs_only.output and "0 sent" in jobs_only.output
    assert quiet.test_client().get("/api/health").get_json()["components"]["mail"]["queued"] == 2


def test_the_sender_command_stops_cleanly_on_sigterm(
    app: Flask, smtp: SMTPServer, migrated_database: str
) -> None:
    queue(app, 3)
    environment = {
        **os.environ,
        **{key: str(value) for key, value in base_config(migrated_database, **mail_settings(smtp)).items()},
        "HOMEROOM_ENV_FILE": "",
        "FLASK_SKIP_DOTENV": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "run"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(smtp.received) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert len(smtp.received) == 3
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "outbox_sender_stopping" in output and "Stopped: 3 sent" in output
    assert statuses(app) == {"sent": 3}


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_server_without_starttls_is_used_as_it_is_unless_required(
    make_app: AppFactory, smtp: SMTPServer, mode: str
) -> None:
    app = make_app(**mail_settings(smtp, SMTP_STARTTLS=mode))
    queue(app, 1)
    assert deliver(app).sent == 1
    strict = make_app(**mail_settings(smtp, SMTP_STARTTLS="require"))
    queue(strict, 1, prefix="strict")
    assert deliver(strict, max_seconds=0.3, until_idle=False).sent == 0
    with strict.app_context():
        error = db.session.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.dedup_key == "strict:0")
        )
    assert error and "STARTTLS" in error


def test_cancelled_messages_are_not_sent(app: Flask, smtp: SMTPServer) -> None:
    queue(app, 2, prefix="cancel")
    with app.app_context():
        assert outbox.cancel(["cancel:0"]) == 1
        db.session.commit()
    assert deliver(app).sent == 1 and statuses(app) == {"sent": 1, MailStatus.CANCELLED.value: 1}


def test_the_sender_rides_out_a_database_failure(app: Flask, smtp: SMTPServer, logs: Any) -> None:
    from sqlalchemy.exc import OperationalError

    queue(app, 2)
    calls = {"n": 0}

    def flaky(_settings: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return 0

    sender = Sender(app, app.extensions[SETTINGS_EXTENSION], before_round=flaky)
    totals = sender.run(until_idle=True, max_seconds=30)
    assert totals.sent == 2 and calls["n"] >= 2
    assert any(line.get("event") == "outbox_round_failed" for line in logs())


def test_purge_keeps_recent_and_undelivered_mail(app: Flask, smtp: SMTPServer) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from backend.core.models import utcnow

    queue(app, 3, prefix="purge")
    deliver(app)
    queue(app, 1, prefix="waiting")
    with app.app_context():
        old = utcnow() - timedelta(days=500)
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedup_key.in_(["purge:0", "waiting:0"]))
            .values(updated_at=old)
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["outbox", "purge", "--days", "400"])
    assert result.exit_code == 0 and "Deleted 1 sent or cancelled" in result.output
    assert statuses(app) == {"sent": 2, "queued": 1}
    assert app.test_cli_runner().invoke(args=["outbox", "purge", "--days", "5"]).exit_code == 2  # too short
