"""Audiences: each resolves, when published, to exactly its people (each once, the active ones, of
the author's school), in one statement whatever their number; teachers address their own classes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from backend.announcements import Recipient
from backend.core.extensions import db
from tests.announcements.helpers import BASE, announce
from tests.conftest import auth_headers, count_statements, make_user
from tests.school import World, _student


def _guardian(world: World, name: str, student: str, school: str = "A") -> None:
    """A new parent account `name`, guardian of `student` (an id in world.ids)."""
    school_id = world.accounts["admin" if school == "A" else "other_school_admin"].school_id
    world.accounts[name] = make_user(world.app, school_id, "parent", full_name=name)
    world.headers[name] = auth_headers(world.client, world.accounts[name])
    who = "admin" if school == "A" else "other_school_admin"
    world.post(
        who,
        f"/api/students/{world.ids[student]}/guardians",
        {"user_id": str(world.accounts[name].user_id), "relationship": "guardian"},
    )


def _pupil(world: World, key: str, number: str, grade: int = 5, class_name: str | None = "maths") -> None:
    world.ids[key] = uuid.UUID(
        world.post("admin", "/api/students", _student(number, key.title(), "Test", grade))["id"]
    )
    if class_name:
        world.post(
            "admin", f"/api/classes/{world.ids[class_name]}/enrollments", {"student_id": str(world.ids[key])}
        )


@pytest.fixture
def families(world: World) -> World:
    """Besides tests/school.py: `parent` also has Dan in Maths; Bob (Art) and Carol (year 6) have
    parents; Eve in Maths has left; a second guardian of Alice is deactivated; Zed (school B) has one."""
    _pupil(world, "dan", "A-003")
    _pupil(world, "carol", "A-004", grade=6, class_name=None)
    _pupil(world, "eve", "A-005")
    world.post("admin", f"/api/students/{world.ids['dan']}/guardians", {
        "user_id": str(world.accounts["parent"].user_id), "relationship": "mother"})  # fmt: skip
    _guardian(world, "parent_bob", "bob")
    _guardian(world, "parent_carol", "carol")
    _guardian(world, "parent_eve", "eve")
    _guardian(world, "parent_gone", "alice")
    _guardian(world, "parent_zed", "foreign", school="B")
    left = world.client.patch(
        f"/api/students/{world.ids['eve']}", json={"status": "withdrawn"}, headers=world.as_("admin")
    )
    assert left.status_code == 200, left.get_json()
    gone = world.client.patch(
        f"/api/users/{world.accounts['parent_gone'].user_id}",
        json={"is_active": False},
        headers=world.as_("admin"),
    )
    assert gone.status_code == 200, gone.get_json()
    return world


def recipients(app: Flask, announcement: dict[str, Any]) -> list[uuid.UUID]:
    with app.app_context():
        ids = db.session.scalars(
            select(Recipient.user_id).where(Recipient.announcement_id == uuid.UUID(announcement["id"]))
        ).all()
    return sorted(ids)


def users(world: World, *names: str) -> list[uuid.UUID]:
    return sorted(world.accounts[name].user_id for name in names)


PARENTS = ("parent", "other_parent", "parent_bob", "parent_carol", "parent_eve")
STAFF = ("admin", "teacher", "other_teacher")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"audience": "school"}, STAFF + PARENTS),
        ({"audience": "staff"}, STAFF),
        ({"audience": "parents"}, PARENTS),
        ({"audience": "class", "class_id": "maths"}, ("parent",)),  # once for Alice and Dan; Eve has left
        ({"audience": "class", "class_id": "art"}, ("parent_bob",)),
        ({"audience": "year", "grade_level": 5}, ("parent", "parent_bob")),
        ({"audience": "year", "grade_level": 6}, ("parent_carol",)),
        ({"audience": "students", "student_ids": ["bob", "carol"]}, ("parent_bob", "parent_carol")),
        ({"audience": "students", "student_ids": ["eve"]}, ()),  # has left: nobody
    ],
)
def test_each_audience_is_exactly_its_people(
    families: World, fields: dict[str, Any], expected: tuple[str, ...]
) -> None:
    world = families
    if "class_id" in fields:
        fields["class_id"] = str(world.ids[fields["class_id"]])
    if "student_ids" in fields:
        fields["student_ids"] = [str(world.ids[name]) for name in fields["student_ids"]]
    posted = announce(world, **fields)
    assert recipients(world.app, posted) == users(world, *expected)
    assert posted["recipient_count"] == len(expected)
    assert "parent_gone" not in expected and "parent_zed" not in expected


def test_another_schools_audience_never_reaches_this_one(families: World) -> None:
    world = families
    theirs = announce(world, "other_school_admin", audience="parents")
    assert recipients(world.app, theirs) == users(world, "parent_zed")
    ours = announce(world, audience="school")
    assert world.accounts["parent_zed"].user_id not in recipients(world.app, ours)
    assert world.accounts["other_school_admin"].user_id not in recipients(world.app, ours)


def test_another_schools_class_or_students_cannot_be_named(families: World) -> None:
    world = families
    foreign_class = world.post(
        "other_school_admin",
        "/api/classes",
        {
            "name": "B",
            "subject": "B",
            "grade_level": 5,
            "term_id": str(_term_of(world, "other_school_admin")),
        },
    )["id"]
    for fields, field in (
        ({"audience": "class", "class_id": foreign_class}, "body.class_id"),
        ({"audience": "students", "student_ids": [str(world.ids["foreign"])]}, "body.student_ids"),
        (
            {"audience": "students", "student_ids": [str(world.ids["alice"]), str(world.ids["foreign"])]},
            "body.student_ids",
        ),
    ):
        response = world.client.post(
            BASE, json={"title": "t", "body": "b", **fields}, headers=world.as_("admin")
        )
        assert response.status_code == 422, response.get_json()
        assert [e["field"] for e in response.get_json()["errors"]] == [field]


def _term_of(world: World, who: str) -> str:
    terms = world.client.get("/api/terms", headers=world.as_(who)).get_json()["items"]
    if terms:
        return str(terms[0]["id"])
    return str(
        world.post(who, "/api/terms", {"name": "T", "starts_on": "2026-09-01", "ends_on": "2026-12-31"})["id"]
    )


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"audience": "class", "class_id": "maths"}, 201, None),
        ({"audience": "students", "student_ids": ["alice"]}, 201, None),
        ({"audience": "class", "class_id": "art"}, 422, "body.class_id"),  # another teacher's
        ({"audience": "students", "student_ids": ["alice", "bob"]}, 422, "body.student_ids"),
        ({"audience": "school"}, 403, None),
        ({"audience": "staff"}, 403, None),
        ({"audience": "parents"}, 403, None),
        ({"audience": "year", "grade_level": 5}, 403, None),
    ],
)
def test_teachers_address_their_own_classes(
    world: World, fields: dict[str, Any], status: int, field: str | None
) -> None:
    if "class_id" in fields:
        fields["class_id"] = str(world.ids[fields["class_id"]])
    if "student_ids" in fields:
        fields["student_ids"] = [str(world.ids[name]) for name in fields["student_ids"]]
    response = world.client.post(
        BASE, json={"title": "t", "body": "b", **fields}, headers=world.as_("teacher")
    )
    assert response.status_code == status, response.get_json()
    if field:
        assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_parents_and_operators_cannot_post(world: World) -> None:
    for who, status in (("parent", 403), ("operator", 403), ("anonymous", 401)):
        response = world.client.post(
            BASE, json={"title": "t", "body": "b", "audience": "school"}, headers=world.as_(who)
        )
        assert response.status_code == status, (who, response.get_json())
        listed = world.client.get(BASE, headers=world.as_(who))
        assert listed.status_code == status


def _families_in_maths(world: World, first: int, count: int) -> None:
    for n in range(first, first + count):
        key = f"kid{n}"
        _pupil(world, key, f"K-{n:03d}")
        _guardian(world, f"guardian{n}", key)


def test_an_audience_is_resolved_in_one_statement_whatever_its_size(world: World) -> None:
    """Publishing to a class of 2 families costs the statements that a class of 12 does."""
    body = {
        "title": "Trip",
        "body": "Forms due Friday",
        "audience": "class",
        "class_id": str(world.ids["maths"]),
    }

    def post() -> int:
        response = world.client.post(BASE, json=body, headers=world.as_("admin"))
        assert response.status_code == 201, response.get_json()
        count: int = response.get_json()["recipient_count"]
        return count

    _families_in_maths(world, 0, 1)
    small, reached_small = count_statements(world.app, post)
    _families_in_maths(world, 1, 10)
    large, reached_large = count_statements(world.app, post)
    assert (reached_small, reached_large) == (2, 12)
    assert small == large


def test_validation_of_the_audience_and_its_target(world: World) -> None:
    maths = str(world.ids["maths"])
    for fields, field in (
        ({"audience": "class"}, "body"),
        ({"audience": "school", "class_id": maths}, "body"),
        ({"audience": "year", "grade_level": 5, "class_id": maths}, "body"),
        ({"audience": "year", "grade_level": "5"}, "body.grade_level"),
        ({"audience": "year", "grade_level": 21}, "body.grade_level"),
        ({"audience": "students", "student_ids": []}, "body.student_ids"),
        ({"audience": "students", "student_ids": [str(world.ids["alice"])] * 2}, "body.student_ids"),
        ({"audience": "everyone"}, "body.audience"),
        ({"audience": "school", "role": "admin"}, "body.role"),
    ):
        response = world.client.post(
            BASE, json={"title": "t", "body": "b", **fields}, headers=world.as_("admin")
        )
        assert response.status_code == 422, (fields, response.get_json())
        assert field in [e["field"] for e in response.get_json()["errors"]], (fields, response.get_json())
