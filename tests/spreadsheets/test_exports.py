"""CSV exports: what each role may see, and the round trip through the imports."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from backend.core.dates import today_in
from tests.school import World
from tests.spreadsheets.conftest import post_csv

TODAY = today_in("Europe/London")


def export(w: World, kind: str, who: str = "admin", **query: Any) -> list[dict[str, str]]:
    response = w.client.get(f"/api/exports/{kind}", query_string=query, headers=w.as_(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (
        response.mimetype == "text/csv"
        and f'filename="{kind}.csv"' in response.headers["Content-Disposition"]
    )
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))


def _fill(w: World) -> None:
    """A guardian link with fees for Alice, attendance, a grade and an invoice, plus school B's data."""
    today = str(TODAY)
    records = {"records": [{"student_id": str(w.ids["alice"]), "status": "absent"}]}
    w.client.put(
        f"/api/classes/{w.ids['maths']}/attendance?date={today}", json=records, headers=w.as_("teacher")
    )
    records = {"records": [{"student_id": str(w.ids["bob"]), "status": "late"}]}
    w.client.put(
        f"/api/classes/{w.ids['art']}/attendance?date={today}", json=records, headers=w.as_("other_teacher")
    )
    quiz = w.post(
        "teacher",
        f"/api/classes/{w.ids['maths']}/assessments",
        {"title": "Quiz", "category": "quiz", "max_score": 10, "published": True},
    )["id"]
    w.client.put(
        f"/api/assessments/{quiz}/grades",
        json={"grades": [{"student_id": str(w.ids["alice"]), "status": "graded", "score": 8}]},
        headers=w.as_("teacher"),
    )
    for student, number in (("alice", "A-1"), ("bob", "B-1")):
        body = {
            "student_id": str(w.ids[student]),
            "number": number,
            "due_date": str(TODAY + timedelta(days=9)),
            "lines": [{"description": "Fee", "category": "tuition", "amount_cents": 1000}],
        }
        invoice = w.post("admin", "/api/invoices", body)["id"]
        w.client.post(f"/api/invoices/{invoice}/issue", headers=w.as_("admin"))
    path = f"/api/students/{w.ids['alice']}/guardians"
    w.client.delete(f"{path}/{w.ids['link']}", headers=w.as_("admin"))
    w.post(
        "admin",
        path,
        {"user_id": str(w.accounts["parent"].user_id), "relationship": "mother", "can_view_finance": True},
    )


def test_each_role_exports_only_what_it_may_see(world: World) -> None:
    _fill(world)
    numbers = lambda rows: sorted(r["admission_number"] for r in rows)  # noqa: E731
    assert numbers(export(world, "students")) == ["A-001", "A-002"]
    assert numbers(export(world, "students", "teacher")) == ["A-001"]
    assert numbers(export(world, "students", "parent")) == ["A-001"]
    assert numbers(export(world, "students", "other_school_admin")) == ["B-001"]
    assert [r["name"] for r in export(world, "classes", "teacher")] == ["5 Maths"]
    assert numbers(export(world, "enrollments", "other_teacher")) == ["A-002"]
    assert numbers(export(world, "attendance", "teacher")) == ["A-001"]
    assert [r["status"] for r in export(world, "attendance", "parent")] == ["absent"]
    assert numbers(export(world, "attendance", "admin", **{"from": str(TODAY), "to": str(TODAY)})) == [
        "A-001",
        "A-002",
    ]
    assert export(world, "attendance", "admin", **{"to": str(TODAY - timedelta(days=1))}) == []
    grades = export(world, "grades", "parent")
    assert [(g["assessment"], g["score"]) for g in grades] == [("Quiz", "8.00")]
    assert export(world, "grades", "other_teacher") == []
    assert [(i["number"], i["outstanding_cents"]) for i in export(world, "invoices", "parent")] == [
        ("A-1", "1000")
    ]
    assert sorted(i["number"] for i in export(world, "invoices")) == ["A-1", "B-1"]
    assert export(world, "invoices", "other_school_admin") == []
    assert [g["email"] for g in export(world, "guardians", "teacher")] == [world.accounts["parent"].email]
    for who, kind in (
        ("teacher", "invoices"),
        ("parent", "guardians"),
        ("parent", "classes"),
        ("operator", "students"),
    ):
        assert world.client.get(f"/api/exports/{kind}", headers=world.as_(who)).status_code == 403, (
            who,
            kind,
        )
    assert world.client.get("/api/exports/students").status_code == 401


def test_exports_import_back_unchanged(world: World) -> None:
    _fill(world)
    for kind in ("students", "classes", "enrollments", "guardians"):
        text = world.client.get(f"/api/exports/{kind}", headers=world.as_("admin")).get_data()
        report = post_csv(world, kind, text).get_json()
        assert report.get("applied") and report["create"] == report["update"] == 0, (kind, report)
        assert report["unchanged"] == report["rows"] > 0


def test_an_export_into_another_school_creates_the_same_records(world: World) -> None:
    """School A's students, classes' terms aside, arrive in school B as they were."""
    text = world.client.get("/api/exports/students", headers=world.as_("admin")).get_data()
    report = post_csv(world, "students", text, who="other_school_admin").get_json()
    assert (report["create"], report["update"]) == (2, 0)
    assert sorted(r["admission_number"] for r in export(world, "students", "other_school_admin")) == [
        "A-001",
        "A-002",
        "B-001",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("to", "0"),  # was read as a Unix time: 1970-01-01
        ("from", "1700000000"),
        ("from", "1699920000"),  # a Unix time at midnight: was 2023-11-14
        ("to", "2026-13-01"),
        ("to", "20260102"),
        ("to", "2026-01-02T00:00:00"),
        ("to", "2026-1-2"),
        ("to", "\u0662\u0660\u0662\u0666-01-02"),  # digits, but not ASCII ones
    ],
)
def test_export_dates_are_iso_calendar_dates_only(world: World, name: str, value: str) -> None:
    response = world.client.get(
        "/api/exports/attendance", query_string={name: value}, headers=world.as_("admin")
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["errors"]
    assert error["field"] == f"query.{name}"
    assert error["type"] == "date_format"
    assert "YYYY-MM-DD" in error["message"]


def test_an_iso_date_range_exports(world: World) -> None:
    _fill(world)
    day = str(TODAY)
    assert len(export(world, "attendance", "admin", **{"from": day, "to": day})) == 2
    up_to_then = export(world, "attendance", "admin", to="2026-01-02")  # the marks are today's
    assert len(up_to_then) == (2 if date(2026, 1, 2) >= TODAY else 0)
