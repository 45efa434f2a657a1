"""Assessments and grades: upserts and validation, what parents see, the weighted term summary."""

from __future__ import annotations

from tests.school import World, make_assessment, put_grades

# --- assessments and grades -----------------------------------------------------------------------


def test_grades_are_upserted_and_validated(world: World, alice: str) -> None:
    quiz = make_assessment(world)
    first = put_grades(world, quiz, [{"student_id": alice, "score": 15, "comment": "Good"}])
    assert first.status_code == 200 and first.get_json()["items"][0]["score"] == 15.0
    assert (
        put_grades(world, quiz, [{"student_id": alice, "score": 15, "comment": "Good"}]).get_json()
        == first.get_json()
    )
    for grades, field in [
        ([{"student_id": alice, "score": 21}], "body.grades.0.score"),
        ([{"student_id": alice}], "body.grades.0"),
        ([{"student_id": alice, "status": "missing", "score": 3}], "body.grades.0"),
        ([{"student_id": str(world.ids["bob"]), "score": 3}], "body.grades.0.student_id"),
        ([{"student_id": alice, "score": 1.234}], "body.grades.0.score"),
    ]:
        response = put_grades(world, quiz, grades)
        assert response.status_code == 422, grades
        assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    lowered = world.client.patch(
        f"/api/assessments/{quiz}", json={"max_score": 10}, headers=world.as_("teacher")
    )
    assert lowered.status_code == 422  # a grade of 15 already exists


def test_parents_see_published_grades_and_a_weighted_term_summary(world: World, alice: str) -> None:
    homework = make_assessment(
        world, title="Homework", category="homework", max_score=10, weight=1, published=True
    )
    exam = make_assessment(world, title="Exam", category="exam", max_score=50, weight=3, published=True)
    skipped = make_assessment(world, title="Skipped", category="quiz", max_score=10, published=True)
    draft = make_assessment(world, title="Draft", category="quiz", max_score=10)
    put_grades(world, homework, [{"student_id": alice, "score": 5}])  # 50 %
    put_grades(world, exam, [{"student_id": alice, "score": 50}])  # 100 %
    put_grades(world, skipped, [{"student_id": alice, "status": "exempt"}])
    put_grades(world, draft, [{"student_id": alice, "score": 0}])
    parent_view = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("parent")).get_json()
    assert sorted(g["title"] for g in parent_view["items"]) == ["Exam", "Homework", "Skipped"]
    term = parent_view["terms"][0]
    assert (term["graded"], term["exempt"], term["missing"]) == (2, 1, 0)
    assert term["average_percentage"] == 87.5  # (0.5 * 1 + 1.0 * 3) / 4
    staff_view = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("teacher")).get_json()
    assert len(staff_view["items"]) == 4
    assert staff_view["terms"][0]["average_percentage"] == 70.0  # the draft's 0 % counts for staff
    put_grades(world, homework, [{"student_id": alice, "status": "missing"}])
    after = world.client.get(f"/api/students/{alice}/grades", headers=world.as_("parent")).get_json()[
        "terms"
    ][0]
    assert after["average_percentage"] == 75.0  # a missing grade counts as 0: (0 + 3) / 4
