"""What the announcement tests share: posting one, and reading a user's feed."""

from __future__ import annotations

from typing import Any

from tests.school import World

BASE = "/api/announcements"


def announce(world: World, who: str = "admin", **fields: Any) -> dict[str, Any]:
    """Post an announcement as `who` (to the whole school, published now, unless `fields` say)."""
    body = {"title": "School closed tomorrow", "body": "Snow: **stay home**.", "audience": "school"} | fields
    response = world.client.post(BASE, json=body, headers=world.as_(who))
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def titles(world: World, who: str, **query: Any) -> list[str]:
    """The titles in `who`'s feed (first page), in order."""
    response = world.client.get("/api/me/announcements", query_string=query, headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


def unread(world: World, who: str) -> int:
    response = world.client.get("/api/me/announcements/unread-count", headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    count: int = response.get_json()["unread"]
    return count
