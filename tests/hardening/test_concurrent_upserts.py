"""Identical concurrent PUTs that create a record (a health record, a class's register for a day, an
assessment's grades) all succeed with one final state; a duplicate key that escapes is a 409."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask
from flask.testing import FlaskClient

from backend.core.api import api
from backend.core.extensions import db
from backend.core.markers import public
from backend.schools.models import School
from tests.conftest import AppFactory, postgres_only
from tests.school import TODAY, World

CONCURRENT = 10


def _at_once(world: World, send: Callable[[FlaskClient], Any]) -> list[Any]:
    """Send the same request from CONCURRENT threads released together; their responses."""
    barrier = threading.Barrier(CONCURRENT)
    responses: list[Any] = []

    def run() -> None:
        client = world.app.test_client()
        barrier.wait()
        responses.append(send(client))

    threads = [threading.Thread(target=run) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@postgres_only
def test_concurrent_puts_of_a_new_health_record(world: World) -> None:
    path = f"/api/students/{world.ids['alice']}/health"
    record = {
        "blood_type": "O+",
        "allergies": [{"allergen": "Peanut", "severity": "severe"}],
        "alerts": ["Inhaler"],
    }
    responses = _at_once(world, lambda client: client.put(path, json=record, headers=world.as_("admin")))
    assert sorted(r.status_code for r in responses) == [200] * CONCURRENT
    stored = world.client.get(path, headers=world.as_("admin")).get_json()
    assert (stored["blood_type"], stored["alerts"]) == ("O+", ["Inhaler"])
    assert {r.get_json()["allergies"][0]["allergen"] for r in responses} == {"Peanut"}


@postgres_only
def test_concurrent_puts_of_a_new_register(world: World) -> None:
    path = f"/api/classes/{world.ids['maths']}/attendance"
    body = {"records": [{"student_id": str(world.ids["alice"]), "status": "late", "reason": "Bus"}]}
    responses = _at_once(
        world,
        lambda client: client.put(
            path, query_string={"date": str(TODAY)}, json=body, headers=world.as_("teacher")
        ),
    )
    assert sorted(r.status_code for r in responses) == [200] * CONCURRENT
    register = world.client.get(
        path, query_string={"date": str(TODAY)}, headers=world.as_("teacher")
    ).get_json()
    assert [(item["status"], item["reason"]) for item in register["items"]] == [("late", "Bus")]


@postgres_only
def test_concurrent_puts_of_new_grades(world: World) -> None:
    assessment = world.post(
        "teacher",
        f"/api/classes/{world.ids['maths']}/assessments",
        {"title": "Quiz", "category": "quiz", "max_score": 10},
    )["id"]
    path = f"/api/assessments/{assessment}/grades"
    body = {"grades": [{"student_id": str(world.ids["alice"]), "status": "graded", "score": 7}]}
    responses = _at_once(world, lambda client: client.put(path, json=body, headers=world.as_("teacher")))
    assert sorted(r.status_code for r in responses) == [200] * CONCURRENT
    grades = world.client.get(path, headers=world.as_("teacher")).get_json()["items"]
    assert [(grade["status"], grade["score"]) for grade in grades] == [("graded", 7.0)]


def test_a_duplicate_key_that_escapes_a_service_is_a_409(make_app: AppFactory) -> None:
    """The last line of defence: a unique violation nobody handled is a conflict, not a 500."""
    app: Flask = make_app()
    bp = Blueprint("duplicates", __name__)

    @bp.post("/api/_test/duplicate-school")
    @public
    @api(status=204)
    def duplicate_school() -> None:
        for _ in range(2):
            db.session.add(School(name="Twin", slug="twin-school", timezone="UTC", currency="GBP"))
            db.session.commit()

    app.register_blueprint(bp)
    response = app.test_client().post("/api/_test/duplicate-school")
    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"
    assert response.mimetype == "application/problem+json"
