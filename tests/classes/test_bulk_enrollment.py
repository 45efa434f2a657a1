"""Enrolling many students at once, and moving a class on to next year's class."""

from __future__ import annotations

import uuid

from tests.school import World


def test_many_students_at_once_all_or_nothing_and_repeatable(world: World) -> None:
    path = f"/api/classes/{world.ids['art']}/enrollments/bulk"
    both = {"student_ids": [str(world.ids["alice"]), str(world.ids["bob"])]}
    first = world.client.post(path, json=both, headers=world.as_("admin"))
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["enrolled"] == [str(world.ids["alice"])]  # Bob was in Art already
    assert first.get_json()["already"] == [str(world.ids["bob"])]
    again = world.client.post(path, json=both, headers=world.as_("admin")).get_json()
    assert again["enrolled"] == [] and len(again["already"]) == 2
    stranger = {"student_ids": [str(world.ids["alice"]), str(world.ids["foreign"]), str(uuid.uuid4())]}
    refused = world.client.post(
        f"/api/classes/{world.ids['maths']}/enrollments/bulk", json=stranger, headers=world.as_("admin")
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["body.student_ids.1", "body.student_ids.2"]
    listed = world.client.get(
        f"/api/classes/{world.ids['maths']}/enrollments", headers=world.as_("admin")
    ).get_json()
    assert [s["id"] for s in listed["items"]] == [
        str(world.ids["alice"])
    ]  # nothing added by the refused call
    assert world.client.post(path, json=both, headers=world.as_("teacher")).status_code == 403
    assert world.client.post(path, json={"student_ids": []}, headers=world.as_("admin")).status_code == 422


def test_a_class_moves_on_to_next_years_class(world: World) -> None:
    term = world.post(
        "admin", "/api/terms", {"name": "Next year", "starts_on": "2031-09-01", "ends_on": "2032-07-15"}
    )["id"]
    next_class = world.post(
        "admin", "/api/classes", {"name": "6 Maths", "subject": "Maths", "grade_level": 6, "term_id": term}
    )["id"]
    path = f"/api/classes/{world.ids['maths']}/promote"
    moved = world.client.post(path, json={"to_class_id": next_class}, headers=world.as_("admin")).get_json()
    assert moved == {"class_id": next_class, "enrolled": [str(world.ids["alice"])], "already": []}
    again = world.client.post(path, json={"to_class_id": next_class}, headers=world.as_("admin")).get_json()
    assert again["enrolled"] == [] and again["already"] == [str(world.ids["alice"])]
    same = world.client.post(path, json={"to_class_id": str(world.ids["maths"])}, headers=world.as_("admin"))
    assert same.status_code == 422
    elsewhere = world.client.post(path, json={"to_class_id": str(uuid.uuid4())}, headers=world.as_("admin"))
    assert elsewhere.status_code == 404
