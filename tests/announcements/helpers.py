"""What the announcement tests share: posting one, and reading a user's feed."""

from __future__ import annotations

from typing import Any

from flask import Flask

from backend.config import SETTINGS_EXTENSION
from backend.mail.sender import Sender, before_round_hooks
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


def run_jobs(app: Flask) -> int:
    """The production runner on `app` (every job kind: publishing, writing the emails; then the
    mail) until nothing is due, within 30 s; how many emails it sent."""
    sender = Sender(app, app.extensions[SETTINGS_EXTENSION], before_round=before_round_hooks(app))
    return sender.run(until_idle=True, max_seconds=30).sent
