"""The parent dashboard: today, the term's rate, recent published grades; a fixed statement count."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import count_statements
from tests.school import TODAY, World, make_assessment, put_attendance, put_grades

# --- the parent dashboard ---------------------------------------------------------------------------


def test_parent_dashboard(world: World, alice: str) -> None:
    put_attendance(world, "teacher", [{"student_id": alice, "status": "present"}], day=TODAY - timedelta(1))
    put_attendance(world, "teacher", [{"student_id": alice, "status": "absent"}])
    quiz = make_assessment(world, published=True)
    draft = make_assessment(world, title="Draft")
    put_grades(world, quiz, [{"student_id": alice, "score": 18}])
    put_grades(world, draft, [{"student_id": alice, "score": 2}])
    body = world.client.get("/api/parent/dashboard", headers=world.as_("parent")).get_json()
    assert (body["date"], body["term_name"]) == (str(TODAY), "Current term")
    [child] = body["children"]
    assert (child["student"]["first_name"], child["relationship"]) == ("Alice", "mother")
    assert [r["status"] for r in child["today"]] == ["absent"]
    assert child["term_attendance_rate"] == 0.5
    assert [(g["title"], g["percentage"]) for g in child["recent_grades"]] == [("Quiz", 90.0)]
    empty = world.client.get("/api/parent/dashboard", headers=world.as_("other_parent")).get_json()
    assert empty["children"] == []


def test_dashboard_statements_do_not_grow_with_children(world: World) -> None:
    parent = world.accounts["other_parent"]

    def statements() -> int:
        world.client.get("/api/parent/dashboard", headers=world.as_("other_parent"))  # warm
        count, _response = count_statements(
            world.app, lambda: world.client.get("/api/parent/dashboard", headers=world.as_("other_parent"))
        )
        return count

    link = {"user_id": str(parent.user_id), "relationship": "father"}
    world.post("admin", f"/api/students/{world.ids['alice']}/guardians", link)
    one_child = statements()
    world.post("admin", f"/api/students/{world.ids['bob']}/guardians", link)
    assert statements() == one_child
