"""`flask demo seed`: a realistic school, its logins printed, and nothing changed by a second run."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select

from backend.attendance.models import AttendanceRecord
from backend.auth.models import User
from backend.classes.models import Enrollment, SchoolClass
from backend.core.extensions import db
from backend.grades.models import Grade
from backend.schools.models import School
from backend.students.models import GuardianLink, Student
from tests.conftest import bearer

COUNTED = (School, User, Student, SchoolClass, Enrollment, GuardianLink, AttendanceRecord, Grade)


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def test_demo_seed_builds_a_school_once(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    counts = _counts(app)
    assert (counts["School"], counts["SchoolClass"], counts["Student"], counts["Enrollment"]) == (
        1,
        2,
        60,
        60,
    )
    assert counts["GuardianLink"] == 60 and counts["User"] == 63
    assert counts["AttendanceRecord"] >= 60 * 20  # every school day of the term so far
    assert counts["Grade"] == 60 * 4
    assert "Creating students, attendance and grades" in result.output
    assert "Parents:  parent1@demo-school.example.org, parent2@demo-school.example.org" in result.output
    password = re.search(r"Password for every demo login: (\S+)", result.output).group(1)
    admin = re.search(r"Admin:\s+(\S+)", result.output).group(1)

    client = app.test_client()
    login = client.post("/api/auth/login", json={"email": admin, "password": password})
    assert login.status_code == 200
    students = client.get(
        "/api/students", query_string={"limit": 200}, headers=bearer(login.get_json()["access_token"])
    ).get_json()["items"]
    assert len(students) == 60
    parent = client.post(
        "/api/auth/login", json={"email": "parent1@demo-school.example.org", "password": password}
    )
    dashboard = client.get(
        "/api/parent/dashboard", headers=bearer(parent.get_json()["access_token"])
    ).get_json()
    [child] = dashboard["children"]
    assert child["term_attendance_rate"] is not None and len(child["recent_grades"]) == 3  # published only
    # Announcements: the admin's pinned welcome to everyone, the Maths teacher's note to the class's families
    parent_headers = bearer(parent.get_json()["access_token"])
    feed = client.get("/api/me/announcements", headers=parent_headers).get_json()["items"]
    assert [item["title"] for item in feed] == ["Welcome to Homeroom", "Year 5 Maths: quiz on Friday"]
    assert (
        feed[0]["pinned"] is True
        and "<strong>attendance, grades, fees and reports</strong>" in feed[0]["body_html"]
    )
    assert client.get("/api/me/announcements/unread-count", headers=parent_headers).get_json() == {
        "unread": 2
    }

    again = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert again.exit_code == 0
    assert "already exists; nothing was changed" in again.output
    assert "Password" not in again.output and admin in again.output
    assert _counts(app) == counts
    # A lost demo password: the second run says how to set a new one, and that way works.
    hint = re.search(r"`flask --app wsgi (users set-password) --email ADDRESS`", again.output)
    assert hint, again.output
    reset = app.test_cli_runner().invoke(
        args=[*hint.group(1).split(), "--email", admin, "--password-stdin"], input="a-new-demo-passphrase\n"
    )
    assert reset.exit_code == 0, reset.output
    signed_in = client.post("/api/auth/login", json={"email": admin, "password": "a-new-demo-passphrase"})
    assert signed_in.status_code == 200
