"""Every role, and a user of another school, against every school-records route.

Expected statuses are listed per route for: admin, the student's teacher, another teacher, the
student's parent, another parent, another school's admin, and no token at all. A platform
operator gets 403 on every one of them: operators reach no school record, not even by id.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.school import TODAY, World

SCHOOL_CALLERS = (
    "admin",
    "teacher",
    "other_teacher",
    "parent",
    "other_parent",
    "other_school_admin",
    "anonymous",
)
CALLERS = (*SCHOOL_CALLERS, "operator")


def row(*statuses: int) -> dict[str, int]:
    return {**dict(zip(SCHOOL_CALLERS, statuses, strict=True)), "operator": 403}


STUDENT_READ = row(200, 200, 404, 200, 404, 404, 401)
STUDENT_WRITE = row(200, 403, 403, 403, 403, 404, 401)
STAFF_OF_CLASS = row(200, 200, 404, 403, 403, 404, 401)
ADMIN_OF_SCHOOL = row(200, 403, 403, 403, 403, 404, 401)

# (method, path, body, expected); {alice}, {maths}, ... are filled from the world's ids.
ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("GET", "/api/students", None, row(200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/students/{alice}", None, STUDENT_READ),
    ("PATCH", "/api/students/{alice}", {"first_name": "Ally"}, STUDENT_WRITE),
    ("GET", "/api/students/{alice}/guardians", None, row(200, 200, 404, 403, 403, 404, 401)),
    (
        "POST",
        "/api/students/{alice}/guardians",
        {"user_id": "{other_parent}", "relationship": "father"},
        row(201, 403, 403, 403, 403, 404, 401),
    ),
    ("DELETE", "/api/students/{alice}/guardians/{link}", None, row(204, 403, 403, 403, 403, 404, 401)),
    ("GET", "/api/students/{alice}/attendance", None, STUDENT_READ),
    ("GET", "/api/students/{alice}/grades", None, STUDENT_READ),
    ("GET", "/api/terms", None, row(200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/classes", None, row(200, 200, 200, 403, 403, 200, 401)),
    ("GET", "/api/classes/{maths}", None, STAFF_OF_CLASS),
    ("PATCH", "/api/classes/{maths}", {"subject": "Mathematics"}, ADMIN_OF_SCHOOL),
    ("GET", "/api/classes/{maths}/enrollments", None, STAFF_OF_CLASS),
    (
        "POST",
        "/api/classes/{maths}/enrollments",
        {"student_id": "{bob}"},
        row(201, 403, 403, 403, 403, 404, 401),
    ),
    ("GET", "/api/classes/{maths}/attendance?date={today}", None, STAFF_OF_CLASS),
    (
        "PUT",
        "/api/classes/{maths}/attendance?date={today}",
        {"records": [{"student_id": "{alice}", "status": "late"}]},
        STAFF_OF_CLASS,
    ),
    ("PATCH", "/api/attendance/{record}", {"status": "present"}, STAFF_OF_CLASS),
    ("GET", "/api/classes/{maths}/assessments", None, STAFF_OF_CLASS),
    (
        "POST",
        "/api/classes/{maths}/assessments",
        {"title": "Quiz", "category": "quiz", "max_score": 10},
        row(201, 201, 404, 403, 403, 404, 401),
    ),
    ("PATCH", "/api/assessments/{assessment}", {"published": True}, STAFF_OF_CLASS),
    ("GET", "/api/assessments/{assessment}/grades", None, STAFF_OF_CLASS),
    (
        "PUT",
        "/api/assessments/{assessment}/grades",
        {"grades": [{"student_id": "{alice}", "score": 8}]},
        STAFF_OF_CLASS,
    ),
    ("GET", "/api/parent/dashboard", None, row(403, 403, 403, 200, 200, 403, 401)),
    ("DELETE", "/api/classes/{maths}/enrollments/{alice}", None, row(204, 403, 403, 403, 403, 404, 401)),
    ("DELETE", "/api/students/{alice}", None, STUDENT_WRITE),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.fixture
def names(world: World) -> dict[str, str]:
    record = world.client.put(
        f"/api/classes/{world.ids['maths']}/attendance?date={TODAY}",
        headers=world.as_("admin"),
        json={"records": [{"student_id": str(world.ids["alice"]), "status": "present"}]},
    )
    assessment = world.post(
        "admin",
        f"/api/classes/{world.ids['maths']}/assessments",
        {"title": "Test 1", "category": "exam", "max_score": 20},
    )
    return {
        **{k: str(v) for k, v in world.ids.items()},
        "today": str(TODAY),
        "record": record.get_json()["items"][0]["id"],
        "assessment": assessment["id"],
        "other_parent": str(world.accounts["other_parent"].user_id),
    }


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_for_every_caller(world: World, names: dict[str, str], caller: str) -> None:
    seen = {}
    for method, path, body, expected in ROUTES:
        response = world.client.open(
            _fill(path, names), method=method, json=_fill(body, names), headers=world.as_(caller)
        )
        seen[f"{method} {path}"] = (response.status_code, expected[caller])
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
    assert {route: got for route, (got, _) in seen.items()} == {
        route: want for route, (_, want) in seen.items()
    }


def test_not_found_looks_the_same_as_nonexistent(world: World) -> None:
    """Another school's student and a made-up id get the very same answer."""
    import uuid

    headers = world.as_("admin")
    foreign = world.client.get(f"/api/students/{world.ids['foreign']}", headers=headers)
    made_up = world.client.get(f"/api/students/{uuid.uuid4()}", headers=headers)
    assert foreign.status_code == made_up.status_code == 404
    assert foreign.get_json()["detail"] == made_up.get_json()["detail"]
