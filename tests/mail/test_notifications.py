"""Absence alerts, fee reminders and each user's choice of them, through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.core.dates import today_in
from tests.mail.conftest import BASE_URL, deliver
from tests.mail.smtp_server import SMTPServer
from tests.school import World

TODAY = today_in("Europe/London")


def mark(w: World, status: str, *, who: str = "teacher", day: Any = TODAY, student: str = "alice") -> None:
    body = {"records": [{"student_id": str(w.ids[student]), "status": status}]}
    response = w.client.put(
        f"/api/classes/{w.ids['maths']}/attendance?date={day}", json=body, headers=w.as_(who)
    )
    assert response.status_code == 200, response.get_json()


def parent_email(w: World) -> str:
    return w.accounts["parent"].email


def test_an_absence_today_emails_each_guardian_once(world: World, smtp: SMTPServer) -> None:
    mark(world, "absent")
    mark(world, "absent")  # saved again
    deliver(world.app)
    (mail,) = smtp.to(parent_email(world))
    assert mail.message["Subject"] == "Alice Archer was marked absent today"
    assert "5 Maths" in mail.text and f"{TODAY.day} {TODAY:%B %Y}" in mail.text and "School " in mail.html
    assert mail.message["List-Unsubscribe"].startswith(f"<{BASE_URL}/api/notifications/unsubscribe?token=")
    mark(world, "present")  # corrected after it was sent: nothing more
    mark(world, "absent")  # and absent again the same day: still one email
    deliver(world.app)
    assert len(smtp.to(parent_email(world))) == 1
    assert smtp.to(world.accounts["other_parent"].email) == []


def test_a_correction_before_sending_withdraws_the_alert(world: World, smtp: SMTPServer) -> None:
    mark(world, "absent")
    mark(world, "present")
    deliver(world.app)
    assert smtp.received == []


def test_late_alerts_only_where_the_school_asks(world: World, smtp: SMTPServer) -> None:
    mark(world, "late")
    deliver(world.app)
    assert smtp.received == []
    response = world.client.patch("/api/school", json={"alert_on_late": True}, headers=world.as_("admin"))
    assert response.status_code == 200 and response.get_json()["alert_on_late"] is True
    assert (
        world.client.patch(
            "/api/school", json={"alert_on_late": True}, headers=world.as_("teacher")
        ).status_code
        == 403
    )
    mark(world, "present")
    mark(world, "late")
    deliver(world.app)
    (mail,) = smtp.to(parent_email(world))
    assert "marked late" in mail.message["Subject"]


def test_only_same_day_marks_alert(world: World, smtp: SMTPServer) -> None:
    mark(world, "absent", who="admin", day=TODAY - timedelta(days=3))
    deliver(world.app)
    assert smtp.received == []


def test_a_guardian_who_turned_alerts_off_gets_none(world: World, smtp: SMTPServer) -> None:
    choices = world.client.get("/api/me/notifications", headers=world.as_("parent")).get_json()
    assert choices == {
        "absence_alert": True,
        "fee_reminder": True,
        "report_card": True,
        "urgent_announcement": True,
        "announcement": False,
    }
    off = world.client.patch(
        "/api/me/notifications", json={"absence_alert": False}, headers=world.as_("parent")
    )
    assert off.get_json() == {
        "absence_alert": False,
        "fee_reminder": True,
        "report_card": True,
        "urgent_announcement": True,
        "announcement": False,
    }
    for bad in ({}, {"absence_alert": None}, {"absence_alert": "no"}, {"invitation": False}):
        response = world.client.patch("/api/me/notifications", json=bad, headers=world.as_("parent"))
        assert response.status_code == 422, bad
    mark(world, "absent")
    deliver(world.app)
    assert smtp.received == []


def test_the_unsubscribe_link_works_without_signing_in(world: World, smtp: SMTPServer) -> None:
    mark(world, "absent")
    deliver(world.app)
    (mail,) = smtp.to(parent_email(world))
    link = mail.message["List-Unsubscribe"].strip("<>").removeprefix(BASE_URL)
    assert f"{BASE_URL}/unsubscribe?token=" in mail.text
    done = world.client.post(link)
    assert done.status_code == 200 and done.get_json() == {"kind": "absence_alert", "enabled": False}
    choices = world.client.get("/api/me/notifications", headers=world.as_("parent")).get_json()
    assert choices["absence_alert"] is False and choices["fee_reminder"] is True
    assert world.client.post("/api/notifications/unsubscribe?token=forged.token").status_code == 400
    assert world.client.post("/api/notifications/unsubscribe").status_code == 422


def invoice(w: World, student: str, number: str, due: Any, cents: int = 12_345) -> str:
    body = {
        "student_id": str(w.ids[student]),
        "number": number,
        "issue_date": str(TODAY - timedelta(days=40)),
        "due_date": str(due),
        "lines": [{"description": "Term fee", "category": "tuition", "amount_cents": cents}],
    }
    invoice: str = w.post("admin", "/api/invoices", body)["id"]
    assert w.client.post(f"/api/invoices/{invoice}/issue", headers=w.as_("admin")).status_code == 200
    return invoice


def finance_link(w: World) -> None:
    path = f"/api/students/{w.ids['alice']}/guardians"
    assert w.client.delete(f"{path}/{w.ids['link']}", headers=w.as_("admin")).status_code == 204
    link = {"user_id": str(w.accounts["parent"].user_id), "relationship": "mother", "can_view_finance": True}
    w.post("admin", path, link)


def remind(w: World) -> str:
    result = w.app.test_cli_runner().invoke(args=["fees", "remind"])
    assert result.exit_code == 0, result.output
    return result.output


def test_fee_reminders_go_once_per_invoice_and_stage(world: World, smtp: SMTPServer) -> None:
    invoice(world, "alice", "F-1", TODAY + timedelta(days=3))
    invoice(world, "alice", "F-2", TODAY - timedelta(days=2))
    invoice(world, "alice", "F-3", TODAY + timedelta(days=30))  # not due yet
    assert "0 reminders queued" in remind(world)  # the parent's link does not show fees yet
    finance_link(world)
    output = remind(world)
    assert "2 reminders queued for 2 invoices" in output and "Checking each school's invoices" in output
    assert "0 reminders queued" in remind(world)  # the same stages: nothing new
    deliver(world.app)
    subjects = sorted(m.message["Subject"] for m in smtp.to(parent_email(world)))
    assert subjects[0].endswith("invoice F-1 is due in 3 days") and subjects[1].endswith(
        "invoice F-2 is overdue"
    )
    body = next(m for m in smtp.received if "F-1" in m.message["Subject"]).text
    assert "£123.45 (GBP) outstanding" in body and "Alice Archer" in body
    assert smtp.to(world.accounts["other_parent"].email) == []


def test_paid_invoices_get_no_reminder(world: World, smtp: SMTPServer) -> None:
    finance_link(world)
    unpaid = invoice(world, "alice", "P-1", TODAY + timedelta(days=1), cents=5_000)
    payment = world.client.post(
        f"/api/invoices/{unpaid}/payments",
        json={"amount_cents": 5_000, "method": "cash"},
        headers={**world.as_("admin"), "Idempotency-Key": "pay-p1-in-full"},
    )
    assert payment.status_code == 201, payment.get_json()
    assert "0 reminders queued" in remind(world)
