"""Terms, classes, enrollments, attendance (with rates), assessments and grades, the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.attendance.models import AttendanceRecord
from backend.core.extensions import db
from tests.conftest import count_statements
from tests.records.conftest import TODAY, World


def _put_attendance(
    world: World, who: str, records: list[dict[str, Any]], day: Any = TODAY, class_name: str = "maths"
) -> Any:
    return world.client.put(
        f"/api/classes/{world.ids[class_name]}/attendance",
        query_string={"date": str(day)},
        json={"records": records},
        headers=world.as_(who),
    )


def _alice(status: str, **extra: Any) -> dict[str, Any]:
    return {"student_id": None, "status": status, **extra}


@pytest.fixture
def alice(world: World) -> str:
    return str(world.ids["alice"])


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


# --- attendance ---------------------------------------------------------------------------------


def _rows(world: World) -> int:
    with world.app.app_context():
        return db.session.scalar(select(func.count()).select_from(AttendanceRecord))


def test_bulk_attendance_is_idempotent(world: World, alice: str) -> None:
    first = _put_attendance(world, "teacher", [{"student_id": alice, "status": "late", "reason": "bus"}])
    assert first.status_code == 200
    second = _put_attendance(world, "teacher", [{"student_id": alice, "status": "late", "reason": "bus"}])
    assert second.get_json() == first.get_json()  # same record, untouched (same updated_at)
    assert _rows(world) == 1
    changed = _put_attendance(world, "teacher", [{"student_id": alice, "status": "present"}]).get_json()[
        "items"
    ]
    assert (changed[0]["id"], changed[0]["status"], changed[0]["reason"]) == (
        first.get_json()["items"][0]["id"],
        "present",
        None,
    )
    day = world.client.get(
        f"/api/classes/{world.ids['maths']}/attendance",
        query_string={"date": str(TODAY)},
        headers=world.as_("teacher"),
    ).get_json()["items"]
    assert [r["status"] for r in day] == ["present"]


def test_only_admins_excuse(world: World, alice: str) -> None:
    refused = _put_attendance(world, "teacher", [{"student_id": alice, "status": "excused"}])
    assert refused.status_code == 403 and _rows(world) == 0
    record = _put_attendance(
        world, "admin", [{"student_id": alice, "status": "excused", "reason": "dentist"}]
    )
    record_id = record.get_json()["items"][0]["id"]
    assert (
        world.client.patch(
            f"/api/attendance/{record_id}", json={"status": "present"}, headers=world.as_("teacher")
        ).status_code
        == 403
    )  # an excusal stands
    assert (
        world.client.patch(
            f"/api/attendance/{record_id}", json={"reason": "orthodontist"}, headers=world.as_("admin")
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("records", "query_date", "field"),
    [
        ([{"student_id": "{bob}", "status": "present"}], TODAY, "body.records.0.student_id"),
        ([{"student_id": "{alice}", "status": "asleep"}], TODAY, "body.records.0.status"),
        ([{"student_id": "{alice}", "status": "present"}] * 2, TODAY, "body.records"),
        ([], TODAY, "body.records"),
        ([{"student_id": "{alice}", "status": "present"}], TODAY + timedelta(days=1), "query.date"),
    ],
)
def test_bad_attendance_is_refused(
    world: World, records: list[dict[str, Any]], query_date: Any, field: str
) -> None:
    filled = [
        {**r, "student_id": r["student_id"].format(alice=world.ids["alice"], bob=world.ids["bob"])}
        for r in records
    ]
    response = _put_attendance(world, "admin", filled, day=query_date)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert _rows(world) == 0


def test_attendance_needs_a_date(world: World, alice: str) -> None:
    response = world.client.put(
        f"/api/classes/{world.ids['maths']}/attendance",
        headers=world.as_("admin"),
        json={"records": [{"student_id": alice, "status": "present"}]},
    )
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "query.date"


def test_student_attendance_range_summary_and_pages(world: World, alice: str) -> None:
    statuses = ["present", "absent", "late", "excused", "left_early", "present"]
    for days_ago, status in enumerate(statuses):
        _put_attendance(
            world, "admin", [{"student_id": alice, "status": status}], day=TODAY - timedelta(days_ago)
        )
    path = f"/api/students/{alice}/attendance"
    body = world.client.get(path, headers=world.as_("parent")).get_json()
    summary = body["summary"]
    assert (
        summary["present"],
        summary["absent"],
        summary["late"],
        summary["excused"],
        summary["left_early"],
        summary["total"],
    ) == (2, 1, 1, 1, 1, 6)
    assert summary["attendance_rate"] == 0.8  # (2 + 1 + 1) / (6 - 1)
    assert (summary["from"], summary["to"]) == (str(TODAY - timedelta(days=30)), str(TODAY))
    dates, cursor = [], None
    for _ in range(5):
        page = world.client.get(
            path,
            query_string={"limit": 4} | ({"cursor": cursor} if cursor else {}),
            headers=world.as_("teacher"),
        ).get_json()
        dates += [r["date"] for r in page["items"]]
        assert page["summary"]["total"] == 6  # the summary covers the range, not the page
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert dates == sorted(dates) and len(dates) == 6
    narrow = world.client.get(
        path, query_string={"from": str(TODAY - timedelta(1)), "to": str(TODAY)}, headers=world.as_("admin")
    ).get_json()["summary"]
    assert (narrow["total"], narrow["attendance_rate"]) == (2, 0.5)


@pytest.mark.parametrize(
    "query", [{"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2020-01-01", "to": "2026-01-01"}]
)
def test_bad_attendance_ranges(world: World, alice: str, query: dict[str, str]) -> None:
    response = world.client.get(
        f"/api/students/{alice}/attendance", query_string=query, headers=world.as_("admin")
    )
    assert response.status_code == 422


# --- assessments and grades -----------------------------------------------------------------------


def _assessment(world: World, who: str = "teacher", **fields: Any) -> str:
    body = {"title": "Quiz", "category": "quiz", "max_score": 20} | fields
    return world.post(who, f"/api/classes/{world.ids['maths']}/assessments", body)["id"]


def _grade(world: World, assessment: str, grades: list[dict[str, Any]], who: str = "teacher") -> Any:
    return world.client.put(
        f"/api/assessments/{assessment}/grades", json={"grades": grades}, headers=world.as_(who)
    )


def test_grades_are_upserted_and_validated(world: World, alice: str) -> None:
    quiz = _assessment(world)
    first = _grade(world, quiz, [{"student_id": alice, "score": 15, "comment": "Good"}])
    assert first.status_code == 200 and first.get_json()["items"][0]["score"] == 15.0
    assert (
        _grade(world, quiz, [{"student_id": alice, "score": 15, "comment": "Good"}]).get_json()
        == first.get_json()
    )
    for grades, field in [
        ([{"student_id": alice, "score": 21}], "body.grades.0.score"),
        ([{"student_id": alice}], "body.grades.0"),
        ([{"student_id": alice, "status": "missing", "score": 3}], "body.grades.0"),
        ([{"student_id": str(world.ids["bob"]), "score": 3}], "body.grades.0.student_id"),
        ([{"student_id": alice, "score": 1.234}], "body.grades.0.score"),
    ]:
        response = _grade(world, quiz, grades)
        assert response.status_code == 422, grades
        assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    lowered = world.client.patch(
        f"/api/assessments/{quiz}", json={"max_score": 10}, headers=world.as_("teacher")
    )
    assert lowered.status_code == 422  # a grade of 15 already exists


def test_parents_see_published_grades_and_a_weighted_term_summary(world: World, alice: str) -> None:
    homework = _assessment(
        world, title="Homework", category="homework", max_score=10, weight=1, published=True
    )
    exam = _assessment(world, title="Exam", category="exam", max_score=50, weight=3, published=True)
    skipped = _assessment(world, title="Skipped", category="quiz", max_score=10, published=True)
    draft = _assessment(world, title="Draft", category="quiz", max_score=10)
    _grade(world, homework, [{"student_id": alice, "score": 5}])  # 50 %
    _grade(world, exam, [{"student_id": alice, "score": 50}])  # 100 %
    _grade(world, skipped, [{"student_id": alice, "status": "exempt"}])
    _grade(world, draft, [{"student_id": alice, "score": 0}])
    parent_view = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("parent")).get_json()
    assert sorted(g["title"] for g in parent_view["items"]) == ["Exam", "Homework", "Skipped"]
    term = parent_view["terms"][0]
    assert (term["graded"], term["exempt"], term["missing"]) == (2, 1, 0)
    assert term["average_percentage"] == 87.5  # (0.5 * 1 + 1.0 * 3) / 4
    staff_view = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("teacher")).get_json()
    assert len(staff_view["items"]) == 4
    assert staff_view["terms"][0]["average_percentage"] == 70.0  # the draft's 0 % counts for staff
    _grade(world, homework, [{"student_id": alice, "status": "missing"}])
    after = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("parent")).get_json()[
        "terms"
    ][0]
    assert after["average_percentage"] == 75.0  # a missing grade counts as 0: (0 + 3) / 4


# --- the parent dashboard ---------------------------------------------------------------------------


def test_parent_dashboard(world: World, alice: str) -> None:
    _put_attendance(world, "teacher", [{"student_id": alice, "status": "present"}], day=TODAY - timedelta(1))
    _put_attendance(world, "teacher", [{"student_id": alice, "status": "absent"}])
    quiz = _assessment(world, published=True)
    draft = _assessment(world, title="Draft")
    _grade(world, quiz, [{"student_id": alice, "score": 18}])
    _grade(world, draft, [{"student_id": alice, "score": 2}])
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


def test_attendance_range_runs_a_fixed_number_of_statements(world: World, alice: str) -> None:
    for days_ago in range(12):
        _put_attendance(
            world, "admin", [{"student_id": alice, "status": "present"}], day=TODAY - timedelta(days_ago)
        )
    path = f"/api/students/{alice}/attendance"
    world.client.get(path, headers=world.as_("parent"))  # warm the session-state cache
    counts = []
    for limit in (1, 5, 100):
        count, response = count_statements(
            world.app,
            lambda limit=limit: world.client.get(
                path, query_string={"limit": limit}, headers=world.as_("parent")
            ),
        )
        assert len(response.get_json()["items"]) == min(limit, 12)
        counts.append(count)
    assert counts[0] == counts[1] == counts[2] <= 4  # visibility, school date, page, summary
