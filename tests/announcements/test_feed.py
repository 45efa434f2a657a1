"""Each user's feed: only what was published to them, pinned first then newest, keyset pages; the
unread count (one index-only count); marking read is idempotent; withdrawn ones disappear."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from backend.announcements import Announcement, Recipient
from backend.announcements.feed import unread_query
from backend.core.extensions import db
from backend.tenancy import AuthContext, Role, platform_access
from tests.announcements.helpers import BASE, announce, titles, unread
from tests.conftest import count_statements, postgres_only
from tests.school import World

FEED = "/api/me/announcements"


def test_the_feed_is_pinned_first_then_newest(world: World) -> None:
    tomorrow, yesterday = date.today() + timedelta(days=1), date.today() - timedelta(days=1)
    announce(world, title="Old news")
    announce(world, title="Pinned a while", pinned_until=str(tomorrow))
    announce(world, title="Pin ran out", pinned_until=str(yesterday))
    announce(world, title="Newest")
    assert titles(world, "parent") == ["Pinned a while", "Newest", "Pin ran out", "Old news"]
    items = world.client.get(FEED, headers=world.as_("parent")).get_json()["items"]
    assert [item["pinned"] for item in items] == [True, False, False, False]
    assert items[0]["body_html"] == "<p>Snow: <strong>stay home</strong>.</p>"
    assert items[0]["author_name"] == "Test Admin" and items[0]["read_at"] is None


def test_pages_follow_each_other_without_gaps_or_repeats(world: World) -> None:
    for n in range(7):
        announce(world, title=f"Notice {n}", pinned_until=str(date.today()) if n in (2, 5) else None)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: 7 items in pages of 3
        query: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = world.client.get(FEED, query_string=query, headers=world.as_("teacher")).get_json()
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Notice 5", "Notice 2", "Notice 6", "Notice 4", "Notice 3", "Notice 1", "Notice 0"]
    bad = world.client.get(FEED, query_string={"cursor": "bm90LWEtY3Vyc29y"}, headers=world.as_("teacher"))
    assert bad.status_code == 422


def test_a_user_sees_only_what_was_addressed_to_them(world: World) -> None:
    art = announce(world, title="Art trip", audience="class", class_id=str(world.ids["art"]))
    staff = announce(world, title="Staff meeting moved", audience="staff")
    maths = announce(world, "teacher", title="Maths quiz", audience="class", class_id=str(world.ids["maths"]))
    theirs = announce(world, "other_school_admin", title="School B news")
    assert titles(world, "parent") == ["Maths quiz"]
    assert titles(world, "other_parent") == []
    assert titles(world, "teacher") == ["Staff meeting moved"]
    assert titles(world, "other_school_admin") == ["School B news"]
    for announcement in (art, staff, theirs):
        one = world.client.get(f"{FEED}/{announcement['id']}", headers=world.as_("parent"))
        assert one.status_code == 404
        read = world.client.post(f"{FEED}/{announcement['id']}/read", headers=world.as_("parent"))
        assert read.status_code == 404
    assert (
        world.client.get(f"{FEED}/{maths['id']}", headers=world.as_("parent")).get_json()["title"]
        == "Maths quiz"
    )
    # the authoring side is for its author and the admins only
    assert world.client.get(f"{BASE}/{maths['id']}", headers=world.as_("parent")).status_code == 403
    assert world.client.get(f"{BASE}/{maths['id']}", headers=world.as_("other_teacher")).status_code == 404
    assert (
        world.client.get(f"{BASE}/{maths['id']}", headers=world.as_("other_school_admin")).status_code == 404
    )


def test_unread_count_and_marking_read(world: World) -> None:
    first, second = announce(world, title="One"), announce(world, title="Two")
    announce(world, title="Three")
    assert unread(world, "parent") == 3
    for _ in range(2):  # the second time changes nothing
        response = world.client.post(f"{FEED}/{first['id']}/read", headers=world.as_("parent"))
        assert response.status_code == 204
        assert unread(world, "parent") == 2
    read_at = world.client.get(f"{FEED}/{first['id']}", headers=world.as_("parent")).get_json()["read_at"]
    world.client.post(f"{FEED}/{first['id']}/read", headers=world.as_("parent"))
    assert (
        world.client.get(f"{FEED}/{first['id']}", headers=world.as_("parent")).get_json()["read_at"]
        == read_at
    )
    assert unread(world, "teacher") == 3  # each reader's own
    marked = world.client.post(f"{FEED}/read", headers=world.as_("parent"))
    assert marked.get_json() == {"marked": 2}
    assert world.client.post(f"{FEED}/read", headers=world.as_("parent")).get_json() == {"marked": 0}
    assert unread(world, "parent") == 0
    missing = world.client.post(f"{FEED}/{uuid.uuid4()}/read", headers=world.as_("parent"))
    assert missing.status_code == 404
    assert second["status"] == "published"


def test_withdrawn_announcements_leave_feeds_and_counts_but_stay_in_the_audit(world: World) -> None:
    kept, taken_back = announce(world, title="Kept"), announce(world, title="Sent by mistake")
    world.client.post(f"{FEED}/{taken_back['id']}/read", headers=world.as_("teacher"))
    response = world.client.post(f"{BASE}/{taken_back['id']}/withdraw", headers=world.as_("admin"))
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    assert titles(world, "parent") == ["Kept"] and unread(world, "parent") == 1
    assert world.client.get(f"{FEED}/{taken_back['id']}", headers=world.as_("parent")).status_code == 404
    again = world.client.post(f"{BASE}/{taken_back['id']}/withdraw", headers=world.as_("admin"))
    assert again.status_code == 200
    events = world.client.get(
        "/api/audit-events", query_string={"resource_id": taken_back["id"]}, headers=world.as_("admin")
    ).get_json()["items"]
    actions = sorted(event["action"] for event in events)
    assert actions == ["announcement.create", "announcement.publish", "announcement.withdraw"]
    withdrawal = next(event for event in events if event["action"] == "announcement.withdraw")
    assert withdrawal["changes"]["recipients"] == 5 and withdrawal["changes"]["read"] == 1
    assert withdrawal["changes"]["title"] == "Sent by mistake"
    assert kept["status"] == "published"


def _auth(world: World, who: str) -> AuthContext:
    account = world.accounts[who]
    role = Role.PARENT if who.startswith("parent") else Role.ADMIN
    return AuthContext(account.user_id, uuid.uuid4(), account.school_id, role, "Europe/London", "GBP")


def test_the_unread_count_is_one_statement_whatever_the_feed(world: World) -> None:
    auth = _auth(world, "parent")

    def count() -> int:
        with world.app.app_context(), platform_access("test"):
            return int(db.session.scalar(unread_query(auth)) or 0)

    announce(world)
    one, n = count_statements(world.app, count)
    for _ in range(5):
        announce(world)
    six, m = count_statements(world.app, count)
    assert (n, m) == (1, 6) and one == six == 1


@postgres_only
def test_the_unread_count_is_an_index_only_scan_on_postgresql(world: World) -> None:
    """EXPLAIN on PostgreSQL: the count reads the partial index of unread rows, not the table, with
    thousands of rows of other users and read ones around it."""
    for n in range(3):
        announce(world, title=f"Notice {n}")
    with world.app.app_context(), platform_access("test"):
        school = world.accounts["admin"].school_id
        author = world.accounts["admin"].user_id
        padding = [
            Announcement(
                school_id=school, author_id=author, title="x", body="x", body_html="x",
                audience="staff", status="published", recipient_count=1,
            )
            for _ in range(400)
        ]  # fmt: skip
        db.session.add_all(padding)
        db.session.flush()
        readers = [
            world.accounts[name].user_id for name in ("admin", "teacher", "other_teacher", "other_parent")
        ]
        db.session.add_all(
            Recipient(
                announcement_id=a.id, user_id=u, school_id=school, read_at=None if i % 7 else a.created_at
            )
            for i, a in enumerate(padding)
            for u in readers
        )
        db.session.commit()
        db.session.execute(text("ANALYZE announcement_recipients"))
        compiled = unread_query(_auth(world, "parent")).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        plan = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        db.session.rollback()
    rendered = json.dumps(plan)
    assert "ix_announcement_recipients_unread" in rendered, rendered
    assert "Seq Scan" not in rendered, rendered
    nodes = _node_types(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"])
    assert "Index Only Scan" in nodes, nodes
    with world.app.app_context(), platform_access("test"):
        assert db.session.scalar(select(Recipient.user_id).limit(1)) is not None


def _node_types(node: dict[str, Any]) -> list[str]:
    return [node["Node Type"], *(kind for child in node.get("Plans", []) for kind in _node_types(child))]
