"""The parent dashboard: today, the term's rate, recent published grades; a fixed statement count."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

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


# --- statement counts that do not grow with the data -------------------------------------------------

DASHBOARD = "/api/parent/dashboard"


def _dashboard_statements(world: World, who: str) -> tuple[int, dict[str, Any]]:
    """The statements of one dashboard request (after a warm-up request), and its body."""
    world.client.get(DASHBOARD, headers=world.as_(who))  # warm the session-state cache
    count, response = count_statements(world.app, lambda: world.client.get(DASHBOARD, headers=world.as_(who)))
    assert response.status_code == 200, response.get_json()
    return count, response.get_json()


def _published_grade(world: World, class_name: str, student: str, title: str, score: int) -> None:
    body = {"title": title, "category": "quiz", "max_score": 20, "published": True}
    assessment = world.post("admin", f"/api/classes/{world.ids[class_name]}/assessments", body)["id"]
    response = put_grades(world, assessment, [{"student_id": student, "score": score}], who="admin")
    assert response.status_code == 200, response.get_json()


def _mark(world: World, class_name: str, student: str, status: str, days_ago: int) -> None:
    records = [{"student_id": student, "status": status}]
    response = put_attendance(world, "admin", records, day=TODAY - timedelta(days_ago), class_name=class_name)
    assert response.status_code == 200, response.get_json()


def _part_paid_invoice(world: World, student: str, amounts: tuple[int, ...], paid: int) -> None:
    body = {
        "student_id": student,
        "number": f"INV-{uuid.uuid4().hex[:8]}",
        "issue_date": str(TODAY - timedelta(days=10)),
        "due_date": str(TODAY + timedelta(days=30)),
        "lines": [
            {"description": f"Line {n}", "category": "tuition", "amount_cents": amount}
            for n, amount in enumerate(amounts)
        ],
    }
    invoice = world.post("admin", "/api/invoices", body)["id"]
    issued = world.client.post(f"/api/invoices/{invoice}/issue", headers=world.as_("admin"))
    assert issued.status_code == 200, issued.get_json()
    payment = world.client.post(
        f"/api/invoices/{invoice}/payments",
        json={"amount_cents": paid, "method": "bank_transfer"},
        headers={**world.as_("admin"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert payment.status_code == 201, payment.get_json()


def test_dashboard_statements_do_not_grow_with_classes_marks_records_or_invoices(
    world: World, alice: str
) -> None:
    """A child in one class with one published grade, one register mark and one invoice costs as many
    statements as the same child in three classes with a dozen grades, a week of registers and four
    part-paid invoices. The fee balance is on (a link that may see fees), so its queries count too."""
    link = {"user_id": str(world.accounts["other_parent"].user_id), "relationship": "father"}
    world.post("admin", f"/api/students/{alice}/guardians", link | {"can_view_finance": True})
    _published_grade(world, "maths", alice, "Quiz 0", 10)
    _mark(world, "maths", alice, "present", days_ago=0)
    _part_paid_invoice(world, alice, (10_000,), paid=1_000)
    small, body = _dashboard_statements(world, "other_parent")
    [child] = body["children"]
    assert (len(child["today"]), len(child["recent_grades"])) == (1, 1)
    assert child["balance"]["invoiced_cents"] == 10_000

    counts: dict[str, int] = {}
    world.ids["science"] = uuid.UUID(
        world.post(
            "admin",
            "/api/classes",
            {"name": "5 Science", "subject": "Science", "grade_level": 5, "term_id": str(world.ids["term"])},
        )["id"]
    )
    classes = ["maths", "art", "science"]
    for class_name in classes[1:]:
        world.post("admin", f"/api/classes/{world.ids[class_name]}/enrollments", {"student_id": alice})
    counts["in 3 classes"], _ = _dashboard_statements(world, "other_parent")
    for n, class_name in enumerate(classes * 4, start=1):
        _published_grade(world, class_name, alice, f"Quiz {n}", n)
    counts["13 published grades"], _ = _dashboard_statements(world, "other_parent")
    statuses = ["present", "absent", "late", "left_early", "excused", "present"]
    for days_ago, status in enumerate(statuses):
        for class_name in classes:
            _mark(world, class_name, alice, status, days_ago)
    counts["18 register marks over 6 days"], _ = _dashboard_statements(world, "other_parent")
    for amounts in [(2_000, 3_000), (4_000,), (5_000, 500, 250)]:
        _part_paid_invoice(world, alice, amounts, paid=1_000)
    counts["4 part-paid invoices"], body = _dashboard_statements(world, "other_parent")

    assert counts == dict.fromkeys(counts, small)
    [child] = body["children"]  # and the dashboard does show all of it
    assert sorted(record["class_id"] for record in child["today"]) == sorted(
        str(world.ids[class_name]) for class_name in classes
    )
    assert len(child["recent_grades"]) == 5  # RECENT_GRADES of the 13
    assert child["term_attendance_rate"] == 0.8  # 12 attended of the 15 that count (3 excused)
    assert (child["balance"]["invoiced_cents"], child["balance"]["paid_cents"]) == (24_750, 4_000)
