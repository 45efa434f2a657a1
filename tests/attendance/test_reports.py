"""Attendance reports: registers not taken, runs of absence, rates; JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from backend.core.dates import today_in
from tests.school import World

TODAY = today_in("Europe/London")


def mark(w: World, who: str, class_key: str, student: str, status: str, day: Any) -> None:
    body = {"records": [{"student_id": str(w.ids[student]), "status": status}]}
    response = w.client.put(
        f"/api/classes/{w.ids[class_key]}/attendance?date={day}", json=body, headers=w.as_(who)
    )
    assert response.status_code == 200, response.get_json()


def get(w: World, who: str, path: str, **query: Any) -> Any:
    response = w.client.get(f"/api/reports/attendance/{path}", query_string=query, headers=w.as_(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    if path.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    return response.get_json()["items"]


def test_registers_not_taken_today(world: World) -> None:
    names = sorted(r["class_name"] for r in get(world, "admin", "registers"))
    assert names == ["5 Art", "5 Maths"]
    mark(world, "teacher", "maths", "alice", "present", TODAY)
    assert [r["class_name"] for r in get(world, "admin", "registers")] == ["5 Art"]
    assert get(world, "teacher", "registers") == []  # the teacher's own register is taken
    assert [r["class_name"] for r in get(world, "other_teacher", "registers")] == ["5 Art"]
    rows = get(world, "admin", "registers.csv")
    assert [(r["class_name"], r["students"]) for r in rows] == [("5 Art", "1")]


def test_runs_of_absence(world: World) -> None:
    days = [TODAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    for day in days:  # Alice: present, then absent three school days running; Bob absent once, then back
        mark(world, "admin", "maths", "alice", "present" if day == days[0] else "absent", day)
        mark(world, "admin", "art", "bob", "absent" if day == days[2] else "present", day)
    runs = get(world, "admin", "absences", days=3)
    assert [(r["admission_number"], r["days"], r["since"]) for r in runs] == [("A-001", 3, str(days[1]))]
    assert get(world, "admin", "absences", days=4) == []
    assert get(world, "other_teacher", "absences", days=1) == []  # Alice is not in their classes
    assert [r["days"] for r in get(world, "admin", "absences.csv", days=2)] == ["3"]


def test_rates_per_class_and_per_student(world: World) -> None:
    for n, status in enumerate(("present", "absent", "late", "present")):
        mark(world, "admin", "maths", "alice", status, TODAY - timedelta(days=n))
    rates = get(world, "admin", "rates", **{"from": str(TODAY - timedelta(days=10)), "to": str(TODAY)})
    maths = next(r for r in rates if r["name"] == "5 Maths")
    assert (maths["present"], maths["absent"], maths["late"], maths["attendance_rate"]) == (2, 1, 1, 0.75)
    students = get(
        world, "teacher", "rates", by="student", **{"from": str(TODAY - timedelta(days=10)), "to": str(TODAY)}
    )
    assert [(s["name"], s["attendance_rate"]) for s in students] == [("Archer, Alice", 0.75)]
    as_csv = get(world, "admin", "rates.csv", **{"from": str(TODAY - timedelta(days=10)), "to": str(TODAY)})
    assert as_csv[0]["attendance_rate"] == "0.75"
    bad = world.client.get(
        "/api/reports/attendance/rates",
        query_string={"from": str(TODAY), "to": str(TODAY - timedelta(days=1))},
        headers=world.as_("admin"),
    )
    assert bad.status_code == 422


def test_reports_are_for_staff(world: World) -> None:
    for path in ("registers", "absences", "rates?from=2026-01-01&to=2026-01-02", "registers.csv"):
        assert (
            world.client.get(f"/api/reports/attendance/{path}", headers=world.as_("parent")).status_code
            == 403
        )
        assert world.client.get(f"/api/reports/attendance/{path}").status_code == 401


def test_rates_by_student_carry_the_admission_number_next_to_the_name(world: World) -> None:
    """A school office matches people by admission number (two pupils can share a name)."""
    mark(world, "admin", "maths", "alice", "present", TODAY)
    mark(world, "admin", "art", "bob", "absent", TODAY)
    span = {"from": str(TODAY - timedelta(days=1)), "to": str(TODAY), "by": "student"}
    rows = get(world, "admin", "rates.csv", **span)
    assert list(rows[0])[:3] == ["id", "name", "admission_number"]
    assert [(r["name"], r["admission_number"], r["attendance_rate"]) for r in rows] == [
        ("Archer, Alice", "A-001", "1.0"),
        ("Baker, Bob", "A-002", "0.0"),
    ]
    as_json = get(world, "admin", "rates", **span)
    assert [(r["name"], r["admission_number"]) for r in as_json] == [
        ("Archer, Alice", "A-001"),
        ("Baker, Bob", "A-002"),
    ]
    # By class there is no person, so no admission number: the CSV has no such column.
    by_class = get(world, "admin", "rates.csv", **{**span, "by": "class"})
    assert "admission_number" not in by_class[0] and {r["name"] for r in by_class} == {"5 Maths", "5 Art"}
    assert {r["admission_number"] for r in get(world, "admin", "rates", **{**span, "by": "class"})} == {None}
