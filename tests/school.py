"""A small school (and a second one) with every role, for the school-records tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Account, auth_headers, make_operator, make_school, make_user

TODAY = date.today()
# Terms around today, so that "this term" exists whatever day the suite runs.
TERM = {
    "name": "Current term",
    "starts_on": str(TODAY - timedelta(days=40)),
    "ends_on": str(TODAY + timedelta(days=40)),
}


@dataclass
class World:
    """School A with an admin, two teachers (one class each), a parent of student `alice`;
    school B with its own admin and student."""

    app: Flask
    client: FlaskClient
    accounts: dict[str, Account]
    ids: dict[str, uuid.UUID]
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]

    def post(self, who: str, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body, headers=self.as_(who))
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def _student(number: str, first: str, last: str, grade: int = 5) -> dict[str, Any]:
    return {
        "admission_number": number,
        "first_name": first,
        "last_name": last,
        "date_of_birth": "2015-06-01",
        "grade_level": grade,
        "enrolled_on": str(TODAY - timedelta(days=60)),
    }


@pytest.fixture
def world(app: Flask) -> World:
    client = app.test_client()
    school, other = make_school(app), make_school(app)
    accounts = {
        "admin": make_user(app, school, "admin"),
        "teacher": make_user(app, school, "teacher"),
        "other_teacher": make_user(app, school, "teacher"),
        "parent": make_user(app, school, "parent"),
        "other_parent": make_user(app, school, "parent"),
        "other_school_admin": make_user(app, other, "admin"),
    }
    headers = {name: auth_headers(client, account) for name, account in accounts.items()}
    headers["operator"] = auth_headers(client, make_operator(app))
    headers["anonymous"] = {}
    w = World(app, client, accounts, {}, headers)
    term = w.post("admin", "/api/terms", TERM)["id"]
    alice = w.post("admin", "/api/students", _student("A-001", "Alice", "Archer"))["id"]
    bob = w.post("admin", "/api/students", _student("A-002", "Bob", "Baker"))["id"]
    maths = w.post(
        "admin",
        "/api/classes",
        {
            "name": "5 Maths",
            "subject": "Maths",
            "grade_level": 5,
            "term_id": term,
            "teacher_id": str(accounts["teacher"].user_id),
        },
    )["id"]
    art = w.post(
        "admin",
        "/api/classes",
        {
            "name": "5 Art",
            "subject": "Art",
            "grade_level": 5,
            "term_id": term,
            "teacher_id": str(accounts["other_teacher"].user_id),
        },
    )["id"]
    w.post("admin", f"/api/classes/{maths}/enrollments", {"student_id": alice})
    w.post("admin", f"/api/classes/{art}/enrollments", {"student_id": bob})
    link = w.post(
        "admin",
        f"/api/students/{alice}/guardians",
        {"user_id": str(accounts["parent"].user_id), "relationship": "mother", "is_primary": True},
    )["id"]
    foreign = w.post("other_school_admin", "/api/students", _student("B-001", "Zed", "Zulu"))["id"]
    w.ids = {
        name: uuid.UUID(value)
        for name, value in {
            "term": term,
            "alice": alice,
            "bob": bob,
            "maths": maths,
            "art": art,
            "link": link,
            "foreign": foreign,
        }.items()
    }
    return w


# --- helpers the records tests share ------------------------------------------------------------------


def put_attendance(
    world: World, who: str, records: list[dict[str, Any]], day: Any = TODAY, class_name: str = "maths"
) -> Any:
    """Take the register of `class_name` on `day` as `who`."""
    return world.client.put(
        f"/api/classes/{world.ids[class_name]}/attendance",
        query_string={"date": str(day)},
        json={"records": records},
        headers=world.as_(who),
    )


def make_assessment(world: World, who: str = "teacher", **fields: Any) -> str:
    """A 20-point quiz in maths (or what `fields` say); its id."""
    body = {"title": "Quiz", "category": "quiz", "max_score": 20} | fields
    return world.post(who, f"/api/classes/{world.ids['maths']}/assessments", body)["id"]


def put_grades(world: World, assessment: str, grades: list[dict[str, Any]], who: str = "teacher") -> Any:
    return world.client.put(
        f"/api/assessments/{assessment}/grades", json={"grades": grades}, headers=world.as_(who)
    )


@pytest.fixture
def alice(world: World) -> str:
    """School A's student Alice (in maths, her mother is `parent`), as the API writes her id."""
    return str(world.ids["alice"])
