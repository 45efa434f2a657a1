"""GET /api/auth/me: the caller, their school and role, and for a parent the linked children."""

from __future__ import annotations

from tests.school import World


def test_a_parent_sees_their_linked_children(world: World) -> None:
    me = world.client.get("/api/auth/me", headers=world.as_("parent")).get_json()
    assert me["role"] == "parent"
    assert me["children"] == [
        {
            "id": str(world.ids["alice"]),
            "first_name": "Alice",
            "last_name": "Archer",
            "grade_level": 5,
            "status": "active",
            "relationship": "mother",
            "is_primary": True,
            "can_view_finance": False,
            "can_view_health": False,
            "can_view_grades": True,
        }
    ]


def test_children_follow_the_links_and_stay_in_the_parent_list_order(world: World) -> None:
    world.post(
        "admin",
        f"/api/students/{world.ids['bob']}/guardians",
        {"user_id": str(world.accounts["parent"].user_id), "relationship": "father", "can_view_health": True},
    )
    children = world.client.get("/api/auth/me", headers=world.as_("parent")).get_json()["children"]
    assert [(c["first_name"], c["relationship"], c["can_view_health"]) for c in children] == [
        ("Alice", "mother", False),
        ("Bob", "father", True),
    ]
    world.client.delete(
        f"/api/students/{world.ids['alice']}/guardians/{world.ids['link']}", headers=world.as_("admin")
    )
    children = world.client.get("/api/auth/me", headers=world.as_("parent")).get_json()["children"]
    assert [c["first_name"] for c in children] == ["Bob"]


def test_a_parent_without_links_has_an_empty_list_and_staff_have_none(world: World) -> None:
    assert world.client.get("/api/auth/me", headers=world.as_("other_parent")).get_json()["children"] == []
    for who in ("admin", "teacher"):
        assert world.client.get("/api/auth/me", headers=world.as_(who)).get_json()["children"] is None
