"""Term results (weighted, excused left out, missing counted and reported, one statement per class)
and report comments (teachers for their classes, admins overall; plain text; the progress view)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.core.extensions import db
from tests.conftest import count_statements
from tests.reportcards.helpers import graded_maths, make_scale
from tests.school import TODAY, World, _student, make_assessment, put_attendance, put_grades


def _results(world: World, who: str = "teacher") -> Any:
    response = world.client.get(f"/api/classes/{world.ids['maths']}/term-results", headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _comment(world: World, who: str, body: Any, class_name: str = "maths", student: str = "alice") -> Any:
    return world.client.put(
        f"/api/classes/{world.ids[class_name]}/report-comments/{world.ids[student]}",
        json={"body": body},
        headers=world.as_(who),
    )


def test_the_average_weighs_published_grades_leaves_exempt_out_and_counts_missing_as_zero(
    world: World,
) -> None:
    make_scale(world)
    # 16/20 weight 1, 18/20 weight 3, exempt weight 5, missing weight 1, ungraded weight 2, and an
    # unpublished 0/20 weight 10: (0.8 + 2.7 + 0) / 5 = 70%.
    graded_maths(world, [("graded", 16, 1), ("graded", 18, 3), ("exempt", None, 5), ("missing", None, 1)])
    make_assessment(world, published=True, weight=2)
    hidden = make_assessment(world, published=False, weight=10)
    put_grades(world, hidden, [{"student_id": str(world.ids["alice"]), "score": 0}])
    yesterday = TODAY - timedelta(days=1)
    for day, status in ((TODAY, "present"), (yesterday, "late")):
        assert (
            put_attendance(
                world, "teacher", [{"student_id": str(world.ids["alice"]), "status": status}], day
            ).status_code
            == 200
        )
    results = _results(world)
    assert results["published_assessments"] == 5 and results["scale_name"] == "Letters"
    [alice] = results["items"]
    assert {k: alice[k] for k in ("average", "grade", "graded", "missing", "exempt", "not_graded")} == {
        "average": 70.0,
        "grade": "B",
        "graded": 2,
        "missing": 1,
        "exempt": 1,
        "not_graded": 1,
    }
    assert alice["attendance"] == {
        "present": 1,
        "late": 1,
        "left_early": 0,
        "absent_authorised": 0,
        "absent_unauthorised": 0,
        "total": 2,
        "rate": 1.0,
    }


def test_a_student_with_nothing_graded_has_no_average_and_no_grade(world: World) -> None:
    make_scale(world)
    make_assessment(world, published=True)
    [alice] = _results(world)["items"]
    assert (alice["average"], alice["grade"], alice["not_graded"]) == (None, None, 1)


def test_term_results_are_one_statement_for_a_class_of_2_as_for_a_class_of_12(world: World) -> None:
    make_scale(world)
    assessment = make_assessment(world, published=True)

    def measure() -> int:
        count, _response = count_statements(world.app, lambda: _results(world))
        return count

    small = measure()
    ids = [
        world.post("admin", "/api/students", _student(f"A-1{n:02d}", f"Kid{n}", "Extra"))["id"]
        for n in range(10)
    ]
    for student in ids:
        world.post("admin", f"/api/classes/{world.ids['maths']}/enrollments", {"student_id": student})
    put_grades(world, assessment, [{"student_id": s, "score": 10} for s in ids])
    put_attendance(world, "teacher", [{"student_id": s, "status": "absent"} for s in ids])
    assert len(_results(world)["items"]) == 11
    assert measure() == small


def test_only_a_classs_teacher_or_an_admin_reads_its_results(world: World) -> None:
    url = f"/api/classes/{world.ids['maths']}/term-results"
    assert world.client.get(url, headers=world.as_("other_teacher")).status_code == 404
    assert world.client.get(url, headers=world.as_("parent")).status_code == 403
    assert world.client.get(url, headers=world.as_("other_school_admin")).status_code == 404
    assert world.client.get(url, headers=world.as_("admin")).status_code == 200


def test_a_teacher_writes_comments_for_their_own_classes_students_only(world: World) -> None:
    written = _comment(world, "teacher", "  Alice has worked hard on fractions.\r\n\r\n\r\n\r\nKeep it up!  ")
    assert written.status_code == 200, written.get_json()
    assert written.get_json()["body"] == "Alice has worked hard on fractions.\n\nKeep it up!"
    assert _comment(world, "other_teacher", "Not my class").status_code == 404  # maths is not theirs
    assert _comment(world, "teacher", "Bob is not in maths", student="bob").status_code == 404
    foreign = world.client.put(
        f"/api/classes/{world.ids['maths']}/report-comments/{world.ids['foreign']}",
        json={"body": "x"},
        headers=world.as_("teacher"),
    )
    assert foreign.status_code == 404
    assert _comment(world, "parent", "I'd like to add").status_code == 403
    # Rewriting replaces it; the audit keeps both versions.
    assert _comment(world, "teacher", "Rewritten.").get_json()["body"] == "Rewritten."
    listed = world.client.get(
        f"/api/classes/{world.ids['maths']}/report-comments", headers=world.as_("teacher")
    )
    assert [c["body"] for c in listed.get_json()["items"]] == ["Rewritten."]
    with world.app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.school_id == world.accounts["admin"].school_id)
            .where(AuditEvent.action == "report_comment.write")
            .order_by(AuditEvent.seq)
        ).all()
        assert [e.changes["body"]["after"] for e in events] == [
            "Alice has worked hard on fractions.\n\nKeep it up!",
            "Rewritten.",
        ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("x" * 1001, "at most 1000"),
        ("", "at least 1"),
        ("   ", "at least 1"),
        ("Fine\u202eenil", "pattern"),
        ("Bell\x07", "pattern"),
        ("zero\u200bwidth", "pattern"),
        (42, "string"),
        (None, "string"),
    ],
)
def test_a_comment_is_plain_text_of_at_most_1000_characters(world: World, body: Any, why: str) -> None:
    response = _comment(world, "teacher", body)
    assert response.status_code == 422
    assert why in str(response.get_json()["errors"]).lower() or why in str(response.get_json()["errors"])


def test_a_comment_is_stored_as_typed_in_composed_unicode_and_markup_is_just_text(world: World) -> None:
    decomposed = "Zoe\u0308 <b>did</b> =SUM(A1) well & more"
    body = _comment(world, "teacher", decomposed).get_json()["body"]
    assert body == "Zo\u00eb <b>did</b> =SUM(A1) well & more"
    assert _comment(world, "teacher", "x" * 1000).status_code == 200


def test_an_unknown_field_in_a_comment_is_refused(world: World) -> None:
    response = world.client.put(
        f"/api/classes/{world.ids['maths']}/report-comments/{world.ids['alice']}",
        json={"body": "ok", "author_id": str(world.accounts["admin"].user_id)},
        headers=world.as_("teacher"),
    )
    assert response.status_code == 422


def test_admins_write_the_overall_comment_and_teachers_cannot(world: World) -> None:
    url = f"/api/terms/{world.ids['term']}/report-comments/{world.ids['alice']}"
    assert (
        world.client.put(url, json={"body": "A fine term."}, headers=world.as_("teacher")).status_code == 403
    )
    written = world.client.put(url, json={"body": "A fine term."}, headers=world.as_("admin"))
    assert written.status_code == 200 and written.get_json()["class_id"] is None
    foreign = f"/api/terms/{world.ids['term']}/report-comments/{world.ids['foreign']}"
    assert world.client.put(foreign, json={"body": "x"}, headers=world.as_("admin")).status_code == 404
    assert (
        world.client.put(url, json={"body": "x"}, headers=world.as_("other_school_admin")).status_code == 404
    )
    assert world.client.delete(url, headers=world.as_("admin")).status_code == 204
    assert world.client.delete(url, headers=world.as_("admin")).status_code == 404


def test_the_progress_view_shows_each_teachers_missing_comments(world: World) -> None:
    _comment(world, "teacher", "Good term.")
    url = f"/api/terms/{world.ids['term']}/report-progress"
    admin = world.client.get(url, headers=world.as_("admin")).get_json()
    by_class = {c["class_name"]: c for t in admin["teachers"] for c in t["classes"]}
    assert (by_class["5 Maths"]["written"], by_class["5 Maths"]["missing"]) == (1, [])
    assert [m["admission_number"] for m in by_class["5 Art"]["missing"]] == ["A-002"]
    assert (admin["overall_students"], admin["overall_written"]) == (2, 0)
    assert sorted(m["name"] for m in admin["overall_missing"]) == ["Alice Archer", "Bob Baker"]
    own = world.client.get(url, headers=world.as_("other_teacher")).get_json()
    assert [c["class_name"] for t in own["teachers"] for c in t["classes"]] == ["5 Art"]
    assert own["overall_missing"] == [] and own["overall_students"] == 0
    assert world.client.get(url, headers=world.as_("parent")).status_code == 403
    assert world.client.get(url, headers=world.as_("other_school_admin")).status_code == 404


def test_a_teachers_draft_shows_the_classes_they_teach(world: World) -> None:
    make_scale(world)
    graded_maths(world, [("graded", 10, 1)])
    _comment(world, "teacher", "Solid.")
    world.post(
        "admin", f"/api/classes/{world.ids['art']}/enrollments", {"student_id": str(world.ids["alice"])}
    )
    url = f"/api/terms/{world.ids['term']}/students/{world.ids['alice']}/report"
    teacher = world.client.get(url, headers=world.as_("teacher")).get_json()
    assert [(c["class_name"], c["average"], c["grade"], c["comment"]) for c in teacher["classes"]] == [
        ("5 Maths", 50.0, "D", "Solid.")
    ]
    admin = world.client.get(url, headers=world.as_("admin")).get_json()
    assert [c["class_name"] for c in admin["classes"]] == ["5 Art", "5 Maths"]
    assert world.client.get(url, headers=world.as_("parent")).status_code == 403
    bob = f"/api/terms/{world.ids['term']}/students/{world.ids['bob']}/report"
    assert world.client.get(bob, headers=world.as_("teacher")).status_code == 404  # not their student


def test_a_comment_that_grows_past_1000_characters_once_composed_is_refused(world: World) -> None:
    """U+FB1D is one character sent and two in NFC: 1,000 sent would be 2,000 stored (found by an
    attack: a 500 on PostgreSQL's varchar(1000))."""
    response = _comment(world, "teacher", "\ufb1d" * 1000)
    assert response.status_code == 422
    assert "once normalised" in str(response.get_json()["errors"])
    assert _comment(world, "teacher", "\ufb1d" * 500).status_code == 200
