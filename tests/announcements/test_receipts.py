"""Read receipts: how many of the audience (or of one class's families) have read it, and who has
not, with the children it concerns; only for its author and the admins."""

from __future__ import annotations

from typing import Any

from tests.announcements.helpers import BASE, announce
from tests.conftest import auth_headers, make_user
from tests.school import World


def _parent_of(world: World, name: str, student: str) -> None:
    world.accounts[name] = make_user(world.app, world.accounts["admin"].school_id, "parent", full_name=name)
    world.headers[name] = auth_headers(world.client, world.accounts[name])
    world.post(
        "admin",
        f"/api/students/{world.ids[student]}/guardians",
        {"user_id": str(world.accounts[name].user_id), "relationship": "father"},
    )


def receipts(world: World, who: str, announcement: dict[str, Any], **query: Any) -> Any:
    response = world.client.get(
        f"{BASE}/{announcement['id']}/receipts", query_string=query, headers=world.as_(who)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def not_read(
    world: World, who: str, announcement: dict[str, Any], **query: Any
) -> list[tuple[str, list[str]]]:
    response = world.client.get(
        f"{BASE}/{announcement['id']}/receipts/not-read", query_string=query, headers=world.as_(who)
    )
    assert response.status_code == 200, response.get_json()
    return [(item["full_name"], item["children"]) for item in response.get_json()["items"]]


def read(world: World, who: str, announcement: dict[str, Any]) -> None:
    response = world.client.post(f"/api/me/announcements/{announcement['id']}/read", headers=world.as_(who))
    assert response.status_code == 204


def test_a_teacher_sees_who_in_the_class_has_not_read_it(world: World) -> None:
    _parent_of(world, "Zara Archer", "alice")
    trip = announce(world, "teacher", title="Trip", audience="class", class_id=str(world.ids["maths"]))
    assert receipts(world, "teacher", trip) == {
        "announcement_id": trip["id"], "class_id": None, "recipients": 2, "read": 0, "not_read": 2,
    }  # fmt: skip
    assert not_read(world, "teacher", trip) == [
        ("Test Parent", ["Alice Archer"]),
        ("Zara Archer", ["Alice Archer"]),
    ]
    read(world, "parent", trip)
    read(world, "parent", trip)  # twice: counted once
    assert receipts(world, "teacher", trip)["read"] == 1
    assert not_read(world, "teacher", trip) == [("Zara Archer", ["Alice Archer"])]


def test_an_admin_narrows_a_school_wide_one_to_a_class(world: World) -> None:
    _parent_of(world, "Bo Baker", "bob")
    notice = announce(world, title="Closed", audience="school")
    assert receipts(world, "admin", notice)["recipients"] == 6
    read(world, "teacher", notice)
    maths = receipts(world, "admin", notice, class_id=str(world.ids["maths"]))
    assert (maths["recipients"], maths["read"], maths["class_id"]) == (1, 0, str(world.ids["maths"]))
    assert not_read(world, "admin", notice, class_id=str(world.ids["art"])) == [("Bo Baker", ["Bob Baker"])]
    response = world.client.get(f"{BASE}/{notice['id']}/receipts/not-read", headers=world.as_("admin"))
    everyone = {item["user_id"]: item["children"] for item in response.get_json()["items"]}
    assert str(world.accounts["teacher"].user_id) not in everyone  # has read it
    assert everyone[str(world.accounts["parent"].user_id)] == ["Alice Archer"]
    assert everyone[str(world.accounts["other_teacher"].user_id)] == []
    assert everyone[str(world.accounts["other_parent"].user_id)] == []  # no children
    assert len(everyone) == 5


def test_not_read_is_paginated(world: World) -> None:
    notice = announce(world, title="Closed", audience="school")
    names: list[str] = []
    cursor = None
    for _ in range(10):  # bounded: 5 people in pages of 2
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = world.client.get(
            f"{BASE}/{notice['id']}/receipts/not-read", query_string=query, headers=world.as_("admin")
        )
        names += [item["full_name"] for item in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert len(names) == 5 and names == sorted(names)


def test_receipts_are_for_the_author_and_the_admins(world: World) -> None:
    trip = announce(world, "teacher", title="Trip", audience="class", class_id=str(world.ids["maths"]))
    art = announce(world, "other_teacher", title="Art", audience="class", class_id=str(world.ids["art"]))
    assert receipts(world, "admin", trip)["recipients"] == 1
    for who, announcement, status in (
        ("other_teacher", trip, 404),
        ("teacher", art, 404),
        ("parent", trip, 403),
        ("other_school_admin", trip, 404),
        ("anonymous", trip, 401),
    ):
        for path in ("receipts", "receipts/not-read"):
            response = world.client.get(f"{BASE}/{announcement['id']}/{path}", headers=world.as_(who))
            assert response.status_code == status, (who, path, response.get_json())
    other_class = world.client.get(
        f"{BASE}/{trip['id']}/receipts",
        query_string={"class_id": str(world.ids["art"])},
        headers=world.as_("teacher"),
    )
    assert other_class.status_code == 404
