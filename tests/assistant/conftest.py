"""The small school of tests/school.py with what the assistant answers from: a health
record, an invoice, attendance, grades and knowledge entries in each school, and a second parent
whose link shows neither fees nor health."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from backend.core.dates import today_in
from tests.assistant.model_server import ModelServer
from tests.conftest import auth_headers, make_user
from tests.school import World, world  # noqa: F401  (the fixture, reused)

ALICE_HEALTH = {
    "blood_type": "A+",
    "allergies": [{"allergen": "Peanuts", "severity": "severe", "response": "Use the auto-injector"}],
    "conditions": ["Asthma"],
    "medications": [{"name": "Salbutamol"}],
    "alerts": ["Carries an auto-injector"],
}
ZED_HEALTH = {"allergies": [{"allergen": "Shellfish", "severity": "mild"}], "conditions": ["Diabetes"]}


def send(w: World, who: str, method: str, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = w.client.open(path, method=method, json=body, headers=w.as_(who))
    assert response.status_code == status, response.get_json()
    return response.get_json()


def ask(w: World, who: str, message: str, **extra: Any) -> dict[str, Any]:
    """POST /api/assistant/messages as `who`; the answer body (200 expected)."""
    return send(w, who, "POST", "/api/assistant/messages", {"message": message, **extra})


def _invoice(w: World, who: str, student: str, number: str, cents: int, due: str) -> None:
    body = {
        "student_id": str(w.ids[student]),
        "number": number,
        "due_date": due,
        "lines": [{"description": "Term fee", "category": "tuition", "amount_cents": cents}],
    }
    invoice = w.post(who, "/api/invoices", body)["id"]
    send(w, who, "POST", f"/api/invoices/{invoice}/issue", {})


@pytest.fixture
def school(world: World) -> World:  # noqa: F811 - the imported fixture is its argument
    w = world
    today = today_in("Europe/London")
    w.accounts["bob_parent"] = make_user(
        w.app, w.accounts["admin"].school_id, "parent", full_name="Bea Baker"
    )
    w.headers["bob_parent"] = auth_headers(w.client, w.accounts["bob_parent"])
    link = {"user_id": str(w.accounts["bob_parent"].user_id), "relationship": "father"}
    w.post("admin", f"/api/students/{w.ids['bob']}/guardians", link)
    # Alice's parent sees fees and health; Bob's sees neither (the defaults).
    send(w, "admin", "DELETE", f"/api/students/{w.ids['alice']}/guardians/{w.ids['link']}", {}, 204)
    full = {"user_id": str(w.accounts["parent"].user_id), "relationship": "mother", "is_primary": True}
    w.post(
        "admin",
        f"/api/students/{w.ids['alice']}/guardians",
        full | {"can_view_finance": True, "can_view_health": True},
    )
    send(w, "admin", "PUT", f"/api/students/{w.ids['alice']}/health", ALICE_HEALTH)
    send(w, "admin", "PUT", f"/api/students/{w.ids['bob']}/health", {"alerts": ["Bob alert: hearing aid"]})
    send(w, "other_school_admin", "PUT", f"/api/students/{w.ids['foreign']}/health", ZED_HEALTH)
    _invoice(w, "admin", "alice", "A-INV-1", 98_765, str(today.replace(day=28) if today.day < 28 else today))
    _invoice(w, "admin", "bob", "B-INV-1", 55_500, str(today))
    _invoice(w, "other_school_admin", "foreign", "Z-INV-1", 77_700, str(today))
    register = {"records": [{"student_id": str(w.ids["alice"]), "status": "absent"}]}
    send(w, "teacher", "PUT", f"/api/classes/{w.ids['maths']}/attendance?date={today}", register)
    published = w.post(
        "teacher",
        f"/api/classes/{w.ids['maths']}/assessments",
        {"title": "Fractions quiz", "category": "quiz", "max_score": 50, "published": True},
    )["id"]
    hidden = w.post(
        "teacher",
        f"/api/classes/{w.ids['maths']}/assessments",
        {"title": "Draft mock exam", "category": "exam", "max_score": 50},
    )["id"]
    for assessment, score in ((published, 43), (hidden, 12)):
        grades = {"grades": [{"student_id": str(w.ids["alice"]), "status": "graded", "score": score}]}
        send(w, "teacher", "PUT", f"/api/assessments/{assessment}/grades", grades)
    for who, kind, title, body, audience in (
        ("admin", "policy", "Uniform policy", "Navy jumper, white shirt and black shoes.", "everyone"),
        (
            "admin",
            "howto",
            "Register routine",
            "Take the register within ten minutes of the lesson start.",
            "staff",
        ),
        ("other_school_admin", "policy", "Uniform policy", "Other school: green blazer and tie.", "everyone"),
    ):
        w.post(
            who,
            "/api/assistant/knowledge",
            {"kind": kind, "title": title, "body": body, "audience": audience},
        )
    return w


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    server.start()
    yield server
    server.stop()


def model_settings(server: ModelServer, **extra: Any) -> dict[str, Any]:
    from tests.assistant.model_server import API_KEY

    return {
        "ASSISTANT_API_URL": server.url,
        "ASSISTANT_API_KEY": API_KEY,
        "ASSISTANT_MODEL": "test-model",
        "ASSISTANT_READ_TIMEOUT": 1.0,
        "ASSISTANT_TOTAL_TIMEOUT": 2.0,
        **extra,
    }


@pytest.fixture
def with_model(make_app: Any, model_server: ModelServer) -> Flask:
    """An app whose assistant uses the recording model server."""
    return make_app(**model_settings(model_server))
