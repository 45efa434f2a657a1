"""Terms, classes and enrollments: rules, roles, another school."""

from __future__ import annotations

import pytest

from tests.school import World

# --- terms, classes, enrollments -------------------------------------------------------------------


def test_terms(world: World) -> None:
    admin = world.as_("admin")
    assert (
        world.client.post(
            "/api/terms",
            json={"name": "Current term", "starts_on": "2026-01-01", "ends_on": "2026-03-01"},
            headers=admin,
        ).status_code
        == 409
    )
    backwards = world.client.post(
        "/api/terms", json={"name": "Odd", "starts_on": "2026-03-01", "ends_on": "2026-01-01"}, headers=admin
    )
    assert backwards.status_code == 422
    world.post("admin", "/api/terms", {"name": "Earlier", "starts_on": "2020-01-01", "ends_on": "2020-03-01"})
    names = [
        t["name"] for t in world.client.get("/api/terms", headers=world.as_("parent")).get_json()["items"]
    ]
    assert names == ["Earlier", "Current term"]


def test_teachers_list_only_their_classes(world: World) -> None:
    def names(who: str) -> list[str]:
        return [
            c["name"] for c in world.client.get("/api/classes", headers=world.as_(who)).get_json()["items"]
        ]

    assert names("admin") == ["5 Art", "5 Maths"]
    assert names("teacher") == ["5 Maths"]
    assert names("other_school_admin") == []


@pytest.mark.parametrize(
    ("who", "field"), [("parent", "body.teacher_id"), ("other_school_admin", "body.teacher_id")]
)
def test_class_teacher_must_be_a_teacher_of_the_school(world: World, who: str, field: str) -> None:
    response = world.client.post(
        "/api/classes",
        headers=world.as_("admin"),
        json={
            "name": "New",
            "subject": "X",
            "grade_level": 5,
            "term_id": str(world.ids["term"]),
            "teacher_id": str(world.accounts[who].user_id),
        },
    )
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == field


def test_class_rules(world: World) -> None:
    admin = world.as_("admin")
    body = {"name": "5 Maths", "subject": "Maths", "grade_level": 5, "term_id": str(world.ids["term"])}
    assert world.client.post("/api/classes", json=body, headers=admin).status_code == 409
    foreign_term = world.client.post("/api/classes", json=body, headers=world.as_("other_school_admin"))
    assert foreign_term.status_code == 422
    unassigned = world.client.patch(
        f"/api/classes/{world.ids['maths']}", json={"teacher_id": None}, headers=admin
    )
    assert unassigned.status_code == 200 and unassigned.get_json()["teacher_id"] is None
    assert (
        world.client.get(f"/api/classes/{world.ids['maths']}", headers=world.as_("teacher")).status_code
        == 404
    )


def test_nul_characters_in_bodies_and_queries_are_422(world: World) -> None:
    """PostgreSQL cannot store NUL; it is refused at the door on every database alike."""
    rename = world.client.patch(
        f"/api/classes/{world.ids['maths']}", json={"name": "5\x00Maths"}, headers=world.as_("admin")
    )
    assert rename.status_code == 422
    search = world.client.get("/api/students", query_string={"q": "Al\x00"}, headers=world.as_("admin"))
    assert search.status_code == 422


def test_enrollment_rules(world: World, alice: str) -> None:
    admin, maths = world.as_("admin"), world.ids["maths"]
    duplicate = world.client.post(
        f"/api/classes/{maths}/enrollments", json={"student_id": alice}, headers=admin
    )
    assert duplicate.status_code == 409
    foreign = world.client.post(
        f"/api/classes/{maths}/enrollments", json={"student_id": str(world.ids["foreign"])}, headers=admin
    )
    assert foreign.status_code == 422
    world.client.delete(f"/api/students/{world.ids['bob']}", headers=admin)
    withdrawn = world.client.post(
        f"/api/classes/{maths}/enrollments", json={"student_id": str(world.ids["bob"])}, headers=admin
    )
    assert withdrawn.status_code == 422 and "withdrawn" in withdrawn.get_json()["errors"][0]["message"]
    listed = world.client.get(f"/api/classes/{maths}/enrollments", headers=world.as_("teacher")).get_json()[
        "items"
    ]
    assert [s["first_name"] for s in listed] == ["Alice"]
    assert world.client.delete(f"/api/classes/{maths}/enrollments/{alice}", headers=admin).status_code == 204
    assert world.client.delete(f"/api/classes/{maths}/enrollments/{alice}", headers=admin).status_code == 404
