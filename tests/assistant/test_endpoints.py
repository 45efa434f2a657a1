"""The assistant's endpoints: access, input, the student route, help, domains, limits, audit, logs."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.core.extensions import db
from tests.assistant.conftest import ask, send
from tests.school import World

MESSAGES = "/api/assistant/messages"
SECRET_PHRASE = "my-very-private-phrase-about-alice"


def test_every_endpoint_needs_a_school_user(school: World) -> None:
    student = school.ids["alice"]
    calls = [
        ("POST", MESSAGES, {"message": "hello"}),
        ("POST", "/api/assistant/help", {"page": "fees"}),
        ("GET", "/api/assistant/domains", None),
        ("POST", f"/api/students/{student}/assistant", {"message": "hello"}),
        ("GET", "/api/assistant/knowledge", None),
    ]
    for method, path, body in calls:
        assert school.client.open(path, method=method, json=body).status_code == 401
        response = school.client.open(path, method=method, json=body, headers=school.as_("operator"))
        assert response.status_code == 403, path


def test_bad_bodies_are_refused(school: World) -> None:
    headers = school.as_("parent")
    post = school.client.post
    assert (
        post(MESSAGES, data="{not json", headers=headers, content_type="application/json").status_code == 400
    )
    assert post(MESSAGES, data="message=hi", headers=headers, content_type="text/plain").status_code == 415
    for body, field in (
        ({}, "body.message"),
        ({"message": ""}, "body.message"),
        ({"message": "x" * 1001}, "body.message"),
        ({"message": 42}, "body.message"),
        ({"message": "hi", "student_id": "not-a-uuid"}, "body.student_id"),
        ({"message": "hi", "page": "nowhere"}, "body.page"),
        ({"message": "hi", "extra": True}, "body.extra"),
    ):
        response = post(MESSAGES, json=body, headers=headers)
        assert response.status_code == 422, body
        assert field in [error["field"] for error in response.get_json()["errors"]], response.get_json()
        assert "x" * 50 not in response.get_data(as_text=True)  # the message is not echoed
    huge = {"message": "x" * (2 * 1024 * 1024)}
    assert post(MESSAGES, json=huge, headers=headers).status_code == 413


def test_the_student_route_answers_only_about_visible_students(school: World) -> None:
    own = send(
        school, "parent", "POST", f"/api/students/{school.ids['alice']}/assistant", {"message": "Balance?"}
    )
    assert own["domain"] == "fees" and "£987.65" in own["answer"]
    for who, student in (
        ("parent", "bob"),  # another parent's child
        ("parent", "foreign"),  # another school's student
        ("teacher", "bob"),  # not in the teacher's classes
        ("admin", "foreign"),
    ):
        path = f"/api/students/{school.ids[student]}/assistant"
        send(school, who, "POST", path, {"message": "What is the balance?"}, status=404)
    send(
        school,
        "parent",
        "POST",
        f"/api/students/{uuid.uuid4()}/assistant",
        {"message": "Balance?"},
        status=404,
    )
    body = {"message": "Any allergies?", "student_id": str(school.ids["foreign"])}
    send(school, "admin", "POST", MESSAGES, body, status=404)


def test_a_question_about_one_student_stays_on_that_student(school: World) -> None:
    # Named Bob, but asked on Alice's page: the answer is about Alice only.
    body = send(
        school, "admin", "POST", f"/api/students/{school.ids['alice']}/assistant", {"message": "Bob's fees?"}
    )
    assert "Alice Archer" in body["answer"] and "Bob" not in body["answer"]


def test_help_lists_what_the_role_may_do_on_the_page(school: World) -> None:
    parent = send(school, "parent", "POST", "/api/assistant/help", {"page": "attendance"})
    teacher = send(school, "teacher", "POST", "/api/assistant/help", {"page": "attendance"})
    admin = send(school, "admin", "POST", "/api/assistant/help", {"page": "attendance"})
    titles = {
        who: [a["title"] for a in body["actions"]]
        for who, body in (("p", parent), ("t", teacher), ("a", admin))
    }
    assert titles["p"] == ["See a child's attendance", "Report an absence"]
    assert "Report an absence" not in titles["t"] + titles["a"]  # parents tell the office
    assert "Take the register" in titles["t"] and "Mark an absence as excused" not in titles["t"]
    assert "Mark an absence as excused" in titles["a"]
    assert "Register routine" in teacher["related"] and "Register routine" not in parent["related"]
    users = send(school, "parent", "POST", "/api/assistant/help", {"page": "users"})
    assert users["actions"] == [] and "not available" in users["summary"]


def test_domains_are_the_roles(school: World) -> None:
    def names(who: str) -> list[str]:
        return [d["name"] for d in send(school, who, "GET", "/api/assistant/domains", None)["items"]]

    assert len(names("parent")) == 11 and len(names("admin")) == 11
    assert "fees" not in names("teacher") and len(names("teacher")) == 10
    assert "calendar" in names("parent")
    domain = send(school, "parent", "GET", "/api/assistant/domains", None)["items"][0]
    assert domain["description"] and len(domain["sample_questions"]) >= 2


def test_questions_are_rate_limited_per_user(make_app: Any) -> None:
    from tests.conftest import auth_headers, make_school, make_user

    app = make_app(ASSISTANT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    school = make_school(app)
    first, second = (auth_headers(client, make_user(app, school, "parent")) for _ in range(2))
    for _ in range(3):
        assert client.post(MESSAGES, json={"message": "School hours?"}, headers=first).status_code == 200
    refused = client.post(MESSAGES, json={"message": "School hours?"}, headers=first)
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post(MESSAGES, json={"message": "School hours?"}, headers=second).status_code == 200


def _events(app: Flask, action: str, **where: Any) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == action).filter_by(**where)
        return list(db.session.scalars(query))


def test_a_question_about_a_student_is_audited_without_its_words(school: World) -> None:
    ask(school, "parent", f"What is Alice's fee balance? {SECRET_PHRASE}")
    ask(school, "parent", "What is the uniform policy?")  # about no student: no event
    (event,) = _events(school.app, "assistant.question", resource_id=str(school.ids["alice"]))
    assert event.actor_id == school.accounts["parent"].user_id and event.resource_type == "student"
    assert event.changes == {"domain": "fees", "mode": "offline"}
    assert SECRET_PHRASE not in str(event.changes)
    ask(school, "teacher", "Does Alice have allergies?")
    views = _events(school.app, "health.view", actor_id=school.accounts["teacher"].user_id)
    assert len(views) == 1 and views[0].changes["view"] == "alerts"  # type: ignore[index]


def test_the_words_of_a_question_are_not_logged(school: World, logs: Any) -> None:
    ask(school, "parent", f"Was Alice at school today? {SECRET_PHRASE}")
    lines = logs()
    assert any(line.get("event") == "assistant_answer" for line in lines)
    assert not [line for line in lines if SECRET_PHRASE in str(line)]


def test_health_shows_the_optional_components(school: World) -> None:
    components = school.client.get("/api/health").get_json()["components"]
    assert components["assistant_model"]["status"] == "not_configured"
    assert components["knowledge_base"]["status"] == "ok"
    assert not components["assistant_model"]["critical"] and not components["knowledge_base"]["critical"]


def test_answers_are_counted_by_mode_and_outcome(school: World) -> None:
    def count() -> float:
        text = school.client.get("/metrics").get_data(as_text=True)
        prefix = 'homeroom_assistant_answers_total{mode="offline",outcome="not_configured"} '
        return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))

    before = count()
    ask(school, "parent", "What is the uniform policy?")
    assert count() == before + 1


def test_the_page_gives_context(school: World) -> None:
    here = ask(school, "parent", "What can I do here?", page="fees")
    assert here["domain"] == "help" and "See the balance" in here["answer"]
    assert "Create an invoice" not in here["answer"]  # an admin's action
    tie = ask(
        school, "admin", "Alice late payment", page="fees"
    )  # attendance and fees words: the page decides
    assert tie["domain"] == "fees"
