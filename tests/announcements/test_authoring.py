"""Writing announcements: what a body may hold, publishing now or at a time, editing before it is
published (only the pin after), publishing a scheduled one now, the authors' lists, the audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.announcements.helpers import BASE, announce, titles, unread
from tests.school import World

LATER = (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _post(world: World, who: str = "admin", **fields: Any) -> Any:
    body = {"title": "Title", "body": "Body", "audience": "school"} | fields
    return world.client.post(BASE, json=body, headers=world.as_(who))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "Two\nlines"}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"body": ""}, "body.body"),
        ({"body": "x" * 20_001}, "body.body"),
        ({"body": "Pay \u202eevil\u202c now"}, "body.body"),  # a bidirectional override
        ({"body": "zero\u200bwidth"}, "body.body"),
        ({"urgent": "yes"}, "body.urgent"),
        ({"pinned_until": "next week"}, "body.pinned_until"),
        ({"publish_at": "2030-01-01T09:00:00"}, "body.publish_at"),  # no offset: ambiguous
        ({"publish_at": 1900000000}, "body.publish_at"),
        ({"publish_at": "2020-01-01T09:00:00Z"}, "body.publish_at"),  # in the past
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_what_an_announcement_may_hold(world: World, fields: dict[str, Any], field: str) -> None:
    response = _post(world, **fields)
    assert response.status_code == 422, response.get_json()
    assert field in [error["field"] for error in response.get_json()["errors"]], response.get_json()
    assert titles(world, "parent") == []


def test_bad_bodies_are_refused_before_anything_is_written(world: World) -> None:
    raw = world.client.post(BASE, data="{", content_type="application/json", headers=world.as_("admin"))
    assert raw.status_code == 400
    text = world.client.post(BASE, data="hello", content_type="text/plain", headers=world.as_("admin"))
    assert text.status_code == 415
    huge = world.client.post(
        BASE, json={"title": "t", "body": "x" * 3_000_000, "audience": "school"}, headers=world.as_("admin")
    )
    assert huge.status_code == 413
    assert world.client.get(BASE, headers=world.as_("admin")).get_json()["items"] == []


def test_markdown_tabs_and_emoji_are_kept_and_rendered(world: World) -> None:
    body = "Family day \U0001f468\u200d\U0001f469\u200d\U0001f467!\n\n\tcode\n\n- one\n- two"
    posted = announce(world, body=body)
    assert posted["body"] == body
    assert "\U0001f468\u200d\U0001f469\u200d\U0001f467" in posted["body_html"]
    assert "<pre><code>code\n</code></pre>" in posted["body_html"]
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in posted["body_html"]


def test_publish_now_and_the_audit(world: World) -> None:
    posted = announce(world, title="Now", urgent=True, pinned_until=str(date.today()))
    assert posted["status"] == "published" and posted["published_at"] is not None
    assert posted["recipient_count"] == 5 and posted["publish_at"] is None
    events = world.client.get(
        "/api/audit-events", query_string={"resource_id": posted["id"]}, headers=world.as_("admin")
    ).get_json()["items"]
    by_action = {event["action"]: event for event in events}
    assert set(by_action) == {"announcement.create", "announcement.publish"}
    assert by_action["announcement.create"]["changes"]["title"] == "Now"
    assert by_action["announcement.publish"]["changes"]["recipients"] == 5


def test_a_scheduled_one_is_edited_until_it_is_published(world: World) -> None:
    scheduled = announce(
        world, "teacher", title="Trip", audience="class", class_id=str(world.ids["maths"]), publish_at=LATER
    )
    assert scheduled["status"] == "scheduled" and scheduled["recipient_count"] == 0
    assert titles(world, "parent") == [] and unread(world, "parent") == 0
    path = f"{BASE}/{scheduled['id']}"
    edited = world.client.patch(
        path, json={"title": "Trip moved", "body": "*Monday*", "urgent": True}, headers=world.as_("teacher")
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["body_html"] == "<p><em>Monday</em></p>" and edited.get_json()["urgent"] is True
    for body, field in (
        ({"audience": "class", "class_id": str(world.ids["art"])}, "body.class_id"),  # not theirs
        ({"class_id": str(world.ids["maths"])}, "body"),  # a new target without its audience
        ({"audience": "year"}, "body"),
        ({"publish_at": "2020-01-01T00:00:00Z"}, "body.publish_at"),
        ({"publish_at": None}, "body"),  # not null: "publish now" is POST .../publish
        ({}, "body"),
    ):
        refused = world.client.patch(path, json=body, headers=world.as_("teacher"))
        assert refused.status_code == 422, (body, refused.get_json())
        assert field in [error["field"] for error in refused.get_json()["errors"]], (body, refused.get_json())
    school_wide = world.client.patch(path, json={"audience": "school"}, headers=world.as_("teacher"))
    assert school_wide.status_code == 403
    published = world.client.post(f"{path}/publish", headers=world.as_("teacher"))
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert titles(world, "parent") == ["Trip moved"]
    assert world.client.post(f"{path}/publish", headers=world.as_("teacher")).status_code == 409


def test_after_publishing_only_the_pin_changes(world: World) -> None:
    posted = announce(world, title="Closed")
    path = f"{BASE}/{posted['id']}"
    for body in (
        {"title": "Open after all"},
        {"pinned_until": str(date.today()), "title": "x"},
        {"urgent": True},
    ):
        response = world.client.patch(path, json=body, headers=world.as_("admin"))
        assert response.status_code == 409, (body, response.get_json())
    pinned = world.client.patch(path, json={"pinned_until": str(date.today())}, headers=world.as_("admin"))
    assert pinned.status_code == 200 and pinned.get_json()["pinned_until"] == str(date.today())
    announce(world, title="Later news")
    assert titles(world, "parent") == ["Closed", "Later news"]
    world.client.patch(path, json={"pinned_until": None}, headers=world.as_("admin"))
    assert titles(world, "parent") == ["Later news", "Closed"]


def test_withdrawing_a_scheduled_one_means_it_never_publishes(world: World) -> None:
    scheduled = announce(world, title="Maybe", publish_at=LATER)
    withdrawn = world.client.post(f"{BASE}/{scheduled['id']}/withdraw", headers=world.as_("admin"))
    assert withdrawn.get_json()["status"] == "withdrawn" and withdrawn.get_json()["withdrawn_at"]
    assert (
        world.client.post(f"{BASE}/{scheduled['id']}/publish", headers=world.as_("admin")).status_code == 409
    )
    assert (
        world.client.patch(
            f"{BASE}/{scheduled['id']}", json={"title": "x"}, headers=world.as_("admin")
        ).status_code
        == 409
    )
    assert titles(world, "parent") == []


def test_who_lists_and_manages_which(world: World) -> None:
    mine = announce(world, "teacher", title="Maths", audience="class", class_id=str(world.ids["maths"]))
    theirs = announce(world, "other_teacher", title="Art", audience="class", class_id=str(world.ids["art"]))
    announce(world, title="Office", publish_at=LATER)
    announce(world, "other_school_admin", title="Elsewhere")

    def listed(who: str, **query: Any) -> list[str]:
        response = world.client.get(BASE, query_string=query, headers=world.as_(who))
        assert response.status_code == 200, response.get_json()
        return [item["title"] for item in response.get_json()["items"]]

    assert listed("teacher") == ["Maths"]
    assert listed("admin") == ["Office", "Art", "Maths"]
    assert listed("admin", status="scheduled") == ["Office"]
    assert listed("admin", limit=2) == ["Office", "Art"]
    for action in ("withdraw", "publish"):
        assert (
            world.client.post(f"{BASE}/{theirs['id']}/{action}", headers=world.as_("teacher")).status_code
            == 404
        )
    assert (
        world.client.patch(
            f"{BASE}/{theirs['id']}", json={"title": "x"}, headers=world.as_("teacher")
        ).status_code
        == 404
    )
    assert (
        world.client.post(
            f"{BASE}/{mine['id']}/withdraw", headers=world.as_("other_school_admin")
        ).status_code
        == 404
    )
    assert world.client.post(f"{BASE}/{mine['id']}/withdraw", headers=world.as_("admin")).status_code == 200
    assert (
        listed("parent") == []
        if False
        else world.client.get(BASE, headers=world.as_("parent")).status_code == 403
    )
