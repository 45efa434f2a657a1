"""Students and guardians: creation rules, lists with filters and cursors, withdrawal, links."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import count_statements
from tests.school import TODAY, World

NEW = {
    "admission_number": "A-100",
    "first_name": "Cara",
    "last_name": "Cole",
    "date_of_birth": "2014-02-03",
    "grade_level": 6,
}


def _names(world: World, who: str, **query: Any) -> list[str]:
    response = world.client.get("/api/students", query_string=query, headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return [f"{s['first_name']} {s['last_name']}" for s in response.get_json()["items"]]


def test_admin_admits_a_student(world: World) -> None:
    response = world.client.post("/api/students", json=NEW, headers=world.as_("admin"))
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/students/{body['id']}"
    assert (body["status"], body["enrolled_on"], body["left_on"]) == ("active", str(TODAY), None)
    again = world.client.post("/api/students", json=NEW, headers=world.as_("admin"))
    assert again.status_code == 409
    # Admission numbers are unique per school only.
    assert (
        world.client.post("/api/students", json=NEW, headers=world.as_("other_school_admin")).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date_of_birth": str(TODAY + timedelta(days=1))}, "body.date_of_birth"),
        ({"grade_level": 21}, "body.grade_level"),
        ({"grade_level": "6"}, "body.grade_level"),
        ({"first_name": ""}, "body.first_name"),
        ({"nickname": "Cee"}, "body.nickname"),
        ({"enrolled_on": "2010-01-01"}, "body.enrolled_on"),
        ({"date_of_birth": "2014-02-30"}, "body.date_of_birth"),
    ],
)
def test_invalid_students_are_refused(world: World, change: dict[str, Any], field: str) -> None:
    response = world.client.post("/api/students", json={**NEW, **change}, headers=world.as_("admin"))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_each_role_lists_what_it_may_see(world: World) -> None:
    assert _names(world, "admin") == ["Alice Archer", "Bob Baker"]
    assert _names(world, "teacher") == ["Alice Archer"]
    assert _names(world, "other_teacher") == ["Bob Baker"]
    assert _names(world, "parent") == ["Alice Archer"]
    assert _names(world, "other_parent") == []
    assert _names(world, "other_school_admin") == ["Zed Zulu"]


def test_list_filters(world: World) -> None:
    world.post("admin", "/api/students", NEW)
    assert _names(world, "admin", grade_level=6) == ["Cara Cole"]
    assert _names(world, "admin", class_id=str(world.ids["art"])) == ["Bob Baker"]
    assert _names(world, "admin", q="arch") == ["Alice Archer"]
    assert _names(world, "admin", q="A-002") == ["Bob Baker"]
    world.client.delete(f"/api/students/{world.ids['bob']}", headers=world.as_("admin"))
    assert _names(world, "admin", status="withdrawn") == ["Bob Baker"]
    assert _names(world, "admin", status="active") == ["Alice Archer", "Cara Cole"]


def test_cursor_walks_the_whole_list_once(world: World) -> None:
    for i in range(5):
        world.post("admin", "/api/students", {**NEW, "admission_number": f"X-{i}", "last_name": f"Zed{i}"})
    seen, cursor = [], None
    for _ in range(10):
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = world.client.get("/api/students", query_string=query, headers=world.as_("admin")).get_json()
        seen += [s["last_name"] for s in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ["Archer", "Baker", "Zed0", "Zed1", "Zed2", "Zed3", "Zed4"]


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 500}, {"cursor": "bm9wZQ"}, {"status": "expelled"}, {"class_id": "x"}]
)
def test_bad_list_queries(world: World, query: dict[str, Any]) -> None:
    assert (
        world.client.get("/api/students", query_string=query, headers=world.as_("admin")).status_code == 422
    )


@pytest.mark.parametrize("who", ["admin", "teacher", "parent"])
def test_list_runs_a_fixed_number_of_statements(world: World, who: str) -> None:
    for i in range(12):
        world.post("admin", "/api/students", {**NEW, "admission_number": f"N-{i}"})
    world.client.get("/api/students", headers=world.as_(who))  # warm the session-state cache
    counts = [
        count_statements(
            world.app,
            lambda limit=limit: world.client.get(
                "/api/students", query_string={"limit": limit}, headers=world.as_(who)
            ),
        )[0]
        for limit in (1, 5, 100)
    ]
    assert counts == [1, 1, 1]


def test_update_and_status_rules(world: World) -> None:
    path = f"/api/students/{world.ids['alice']}"
    admin = world.as_("admin")
    graduated = world.client.patch(path, json={"status": "graduated", "left_on": str(TODAY)}, headers=admin)
    assert graduated.status_code == 200
    assert (graduated.get_json()["status"], graduated.get_json()["left_on"]) == ("graduated", str(TODAY))
    assert world.client.patch(path, json={}, headers=admin).status_code == 422
    assert world.client.patch(path, json={"status": None}, headers=admin).status_code == 422
    too_early = world.client.patch(path, json={"left_on": "2000-01-01"}, headers=admin)
    assert too_early.status_code == 422
    reactivated = world.client.patch(path, json={"status": "active"}, headers=admin).get_json()
    assert (reactivated["status"], reactivated["left_on"]) == ("active", None)


def test_withdrawal_keeps_the_history(world: World) -> None:
    alice, admin = world.ids["alice"], world.as_("admin")
    world.client.put(
        f"/api/classes/{world.ids['maths']}/attendance?date={TODAY}",
        headers=admin,
        json={"records": [{"student_id": str(alice), "status": "present"}]},
    )
    withdrawn = world.client.delete(f"/api/students/{alice}", headers=admin)
    assert withdrawn.status_code == 200
    assert (withdrawn.get_json()["status"], withdrawn.get_json()["left_on"]) == ("withdrawn", str(TODAY))
    assert world.client.delete(f"/api/students/{alice}", headers=admin).get_json()["left_on"] == str(TODAY)
    assert world.client.get(f"/api/students/{alice}", headers=admin).status_code == 200
    history = world.client.get(f"/api/students/{alice}/attendance", headers=admin).get_json()
    assert [r["status"] for r in history["items"]] == ["present"]


# --- guardians ------------------------------------------------------------------------------------


def test_guardians_are_listed_primary_first_with_names(world: World) -> None:
    other = world.accounts["other_parent"]
    world.post(
        "admin",
        f"/api/students/{world.ids['alice']}/guardians",
        {"user_id": str(other.user_id), "relationship": "father", "can_view_finance": True},
    )
    items = world.client.get(
        f"/api/students/{world.ids['alice']}/guardians", headers=world.as_("teacher")
    ).get_json()["items"]
    assert [(g["relationship"], g["is_primary"]) for g in items] == [("mother", True), ("father", False)]
    assert items[1]["email"] == other.email and items[1]["can_view_finance"] is True


@pytest.mark.parametrize(("who", "status"), [("teacher", 422), ("other_school_admin", 422), ("parent", 409)])
def test_only_parents_of_the_school_can_be_linked_once(world: World, who: str, status: int) -> None:
    response = world.client.post(
        f"/api/students/{world.ids['alice']}/guardians",
        headers=world.as_("admin"),
        json={"user_id": str(world.accounts[who].user_id), "relationship": "aunt"},
    )
    assert response.status_code == status


def test_unlinking_ends_the_parents_view(world: World) -> None:
    alice = world.ids["alice"]
    assert world.client.get(f"/api/students/{alice}", headers=world.as_("parent")).status_code == 200
    response = world.client.delete(
        f"/api/students/{alice}/guardians/{world.ids['link']}", headers=world.as_("admin")
    )
    assert response.status_code == 204
    assert world.client.get(f"/api/students/{alice}", headers=world.as_("parent")).status_code == 404
    again = world.client.delete(
        f"/api/students/{alice}/guardians/{world.ids['link']}", headers=world.as_("admin")
    )
    assert again.status_code == 404


def test_status_and_leaving_date_always_agree(world: World) -> None:
    path = f"/api/students/{world.ids['alice']}"
    admin = world.as_("admin")

    def patch(body: dict[str, object]) -> tuple[int, object]:
        response = world.client.patch(path, json=body, headers=admin)
        return response.status_code, response.get_json().get("left_on", response.get_json().get("errors"))

    assert patch({"left_on": str(TODAY)})[0] == 422  # active with a leaving date
    status, left_on = patch({"status": "withdrawn"})
    assert (status, left_on) == (200, str(TODAY))  # withdrawn without a date: left today
    assert patch({"left_on": None})[0] == 422  # withdrawn without a leaving date
    assert patch({"status": "active", "left_on": str(TODAY)})[0] == 422
    assert patch({"status": "active"}) == (200, None)
    assert patch({"status": "graduated", "left_on": str(TODAY)}) == (200, str(TODAY))
