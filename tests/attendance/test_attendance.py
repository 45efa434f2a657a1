"""Attendance: registers (idempotent), excuses, bad marks, a student's range with its summary and pages."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.attendance.models import AttendanceRecord
from backend.core.extensions import db
from backend.mail.models import MailKind, MailStatus, OutboxMessage
from tests.conftest import count_statements, make_user
from tests.school import TODAY, World, put_attendance

# --- attendance ---------------------------------------------------------------------------------


def _rows(world: World) -> int:
    with world.app.app_context():
        return db.session.scalar(select(func.count()).select_from(AttendanceRecord))


def test_bulk_attendance_is_idempotent(world: World, alice: str) -> None:
    first = put_attendance(world, "teacher", [{"student_id": alice, "status": "late", "reason": "bus"}])
    assert first.status_code == 200
    second = put_attendance(world, "teacher", [{"student_id": alice, "status": "late", "reason": "bus"}])
    assert second.get_json() == first.get_json()  # same record, untouched (same updated_at)
    assert _rows(world) == 1
    changed = put_attendance(world, "teacher", [{"student_id": alice, "status": "present"}]).get_json()[
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
    refused = put_attendance(world, "teacher", [{"student_id": alice, "status": "excused"}])
    assert refused.status_code == 403 and _rows(world) == 0
    record = put_attendance(world, "admin", [{"student_id": alice, "status": "excused", "reason": "dentist"}])
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
    response = put_attendance(world, "admin", filled, day=query_date)
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
        put_attendance(
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


def test_attendance_range_runs_a_fixed_number_of_statements(world: World, alice: str) -> None:
    for days_ago in range(12):
        put_attendance(
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


# --- a register's statements do not grow with the class ---------------------------------------------


def _class_of(world: World, name: str, size: int) -> list[str]:
    """A new class of the teacher with `size` new students, each with a parent of their own who
    receives absence alerts; the students' ids. The class is in `world.ids` under `name`."""
    body = {
        "name": name,
        "subject": name,
        "grade_level": 5,
        "term_id": str(world.ids["term"]),
        "teacher_id": str(world.accounts["teacher"].user_id),
    }
    world.ids[name] = uuid.UUID(world.post("admin", "/api/classes", body)["id"])
    students = []
    for n in range(size):
        student = {
            "admission_number": f"{name}-{n:03}",
            "first_name": f"Pupil{n}",
            "last_name": name,
            "date_of_birth": "2015-06-01",
            "grade_level": 5,
            "enrolled_on": str(TODAY - timedelta(days=60)),
        }
        student_id = world.post("admin", "/api/students", student)["id"]
        parent = make_user(world.app, world.accounts["admin"].school_id, "parent")
        link = {"user_id": str(parent.user_id), "relationship": "mother"}
        world.post("admin", f"/api/students/{student_id}/guardians", link)
        students.append(student_id)
    enrolled = world.client.post(
        f"/api/classes/{world.ids[name]}/enrollments/bulk",
        json={"student_ids": students},
        headers=world.as_("admin"),
    )
    assert enrolled.status_code == 200, enrolled.get_json()
    return students


def _alerts(world: World, status: MailStatus) -> int:
    """How many absence alerts the outbox holds in `status`."""
    with world.app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == MailKind.ABSENCE_ALERT.value, OutboxMessage.status == status.value)
        )


def test_saving_a_register_runs_as_many_statements_for_2_students_as_for_12(world: World) -> None:
    """First save (every mark new), a second with every mark changed, a third changing nothing: each
    costs the same statements in a class of 2 as in a class of 12. Half the class is absent today
    and every student has a guardian, so absence alerts are queued, and withdrawn, on the way."""

    def save(class_name: str, students: list[str], statuses: tuple[str, str]) -> int:
        records = [{"student_id": s, "status": statuses[n % 2]} for n, s in enumerate(students)]
        register = f"/api/classes/{world.ids[class_name]}/attendance"
        world.client.get(register, query_string={"date": str(TODAY)}, headers=world.as_("teacher"))  # warm
        count, response = count_statements(
            world.app, lambda: put_attendance(world, "teacher", records, class_name=class_name)
        )
        assert response.status_code == 200, response.get_json()
        saved = {r["student_id"]: r["status"] for r in response.get_json()["items"]}
        assert saved == {r["student_id"]: r["status"] for r in records}
        return count

    classes = {"small": _class_of(world, "small", 2), "large": _class_of(world, "large", 12)}
    counts: dict[str, dict[str, int]] = {"small": {}, "large": {}}
    for size, students in classes.items():
        queued, cancelled = _alerts(world, MailStatus.QUEUED), _alerts(world, MailStatus.CANCELLED)
        half = len(students) // 2
        counts[size]["all new"] = save(size, students, ("present", "absent"))
        assert _alerts(world, MailStatus.QUEUED) == queued + half  # one for each absent student's parent
        counts[size]["all changed"] = save(size, students, ("absent", "present"))
        assert _alerts(world, MailStatus.QUEUED) == queued + half  # the newly absent half's
        assert _alerts(world, MailStatus.CANCELLED) == cancelled + half  # the now present half's, withdrawn
        counts[size]["nothing changed"] = save(size, students, ("absent", "present"))
    assert counts["large"] == counts["small"]
