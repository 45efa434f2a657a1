"""The knowledge base: admins manage it, everyone searches it, each school its own."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from backend import create_app
from backend.config import settings_from
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.tenancy import owner_access
from tests.assistant.conftest import send
from tests.conftest import ON_POSTGRES, base_config
from tests.school import World

KNOWLEDGE = "/api/assistant/knowledge"
ENTRY = {
    "kind": "faq",
    "title": "Reporting absences",
    "body": "Phone the office before nine on each day of absence.",
}


def _titles(school: World, who: str, query: str = "") -> list[str]:
    return [e["title"] for e in send(school, who, "GET", f"{KNOWLEDGE}{query}", None)["items"]]


def test_admins_create_change_and_remove_entries(school: World) -> None:
    response = school.client.post(KNOWLEDGE, json=ENTRY, headers=school.as_("admin"))
    assert response.status_code == 201
    entry = response.get_json()
    assert response.headers["Location"].endswith(f"{KNOWLEDGE}/{entry['id']}")
    assert (entry["kind"], entry["audience"]) == ("faq", "everyone")
    send(school, "admin", "POST", KNOWLEDGE, ENTRY, status=409)  # same title in the school
    changed = send(school, "admin", "PATCH", f"{KNOWLEDGE}/{entry['id']}", {"audience": "staff"})
    assert changed["audience"] == "staff"
    assert "Reporting absences" not in _titles(school, "parent")
    send(school, "parent", "GET", f"{KNOWLEDGE}/{entry['id']}", None, status=404)
    assert send(school, "teacher", "GET", f"{KNOWLEDGE}/{entry['id']}", None)["title"] == "Reporting absences"
    send(school, "admin", "DELETE", f"{KNOWLEDGE}/{entry['id']}", None, status=204)
    send(school, "admin", "GET", f"{KNOWLEDGE}/{entry['id']}", None, status=404)
    actions = [
        e["action"] for e in send(school, "admin", "GET", "/api/audit-events?limit=200", None)["items"]
    ]
    assert {"knowledge.create", "knowledge.update", "knowledge.delete"} <= set(actions)


def test_only_admins_manage_and_only_their_school(school: World) -> None:
    send(school, "teacher", "POST", KNOWLEDGE, ENTRY, status=403)
    send(school, "parent", "POST", KNOWLEDGE, ENTRY, status=403)
    mine = school.post("admin", KNOWLEDGE, ENTRY)["id"]
    for method, body in (("GET", None), ("PATCH", {"title": "Taken over"}), ("DELETE", None)):
        send(school, "other_school_admin", method, f"{KNOWLEDGE}/{mine}", body, status=404)
    assert "Taken over" not in _titles(school, "admin")


def test_bad_entries_are_refused(school: World) -> None:
    for body in (
        {**ENTRY, "kind": "rumour"},
        {**ENTRY, "title": ""},
        {**ENTRY, "body": "x" * 10_001},
        {**ENTRY, "audience": "parents"},
        {**ENTRY, "extra": 1},
        {"title": "No body"},
    ):
        send(school, "admin", "POST", KNOWLEDGE, body, status=422)
    entry = school.post("admin", KNOWLEDGE, ENTRY)["id"]
    send(school, "admin", "PATCH", f"{KNOWLEDGE}/{entry}", {}, status=422)
    send(school, "admin", "PATCH", f"{KNOWLEDGE}/{entry}", {"title": None}, status=422)


def test_search_is_full_text_ranked_and_per_school(school: World) -> None:
    school.post("admin", KNOWLEDGE, ENTRY)
    school.post(
        "admin", KNOWLEDGE, {"kind": "policy", "title": "Lunch", "body": "Hot lunches are served at noon."}
    )
    # Stemming: "report an absence" finds "Reporting absences"; the uniform entry does not match.
    assert _titles(school, "parent", "?q=how+do+I+report+an+absence") == ["Reporting absences"]
    assert _titles(school, "parent", "?q=uniform") == ["Uniform policy"]
    assert "Register routine" not in _titles(school, "parent", "?q=register+routine")
    assert _titles(school, "teacher", "?q=register+routine") == ["Register routine"]
    other = _titles(school, "other_school_admin", "?q=uniform+blazer")
    assert other == ["Uniform policy"]
    body = send(school, "other_school_admin", "GET", f"{KNOWLEDGE}?q=uniform", None)["items"][0]["body"]
    assert "green blazer" in body
    # Search syntax of either engine is just text here.
    for query in ('"unbalanced', "a AND OR NOT", "lunch* NEAR(x y)", "):(&|!", "-- ;"):
        assert (
            school.client.get(
                f"{KNOWLEDGE}", query_string={"q": query}, headers=school.as_("admin")
            ).status_code
            == 200
        )
    assert _titles(school, "admin", "?q=the+of+and") == []


def test_the_list_pages_by_title(school: World) -> None:
    for n in range(5):
        school.post("admin", KNOWLEDGE, {"kind": "faq", "title": f"Question {n}", "body": "Answer."})
    first = send(school, "admin", "GET", f"{KNOWLEDGE}?limit=3", None)
    second = send(school, "admin", "GET", f"{KNOWLEDGE}?limit=3&cursor={first['next_cursor']}", None)
    titles = [e["title"] for e in first["items"] + second["items"]]
    assert titles == sorted(titles) and len(set(titles)) == 6
    faqs = _titles(school, "admin", "?kind=faq&limit=50")
    assert "Uniform policy" not in faqs and "Question 0" in faqs


def test_the_knowledge_base_is_down_in_health_without_its_search_index(fresh_database_url: str) -> None:
    app: Flask = create_app(settings_from(**base_config(fresh_database_url)))
    try:
        with app.app_context():
            upgrade()
            assert (
                app.test_client().get("/api/health").get_json()["components"]["knowledge_base"]["status"]
                == "ok"
            )
            drop = (
                "DROP INDEX ix_knowledge_entries_search"
                if ON_POSTGRES
                else "DROP TRIGGER knowledge_search_insert"
            )
            with owner_access("test: the index goes"):
                db.session.execute(text(drop))
                db.session.commit()
        component: dict[str, Any] = (
            app.test_client().get("/api/health").get_json()["components"]["knowledge_base"]
        )
        assert component["status"] == "down" and component["missing"]
    finally:
        dispose_pools(app)
