"""An import retried with its `Idempotency-Key` runs once (the key covers the CSV body and the query:
a dry run and the real import are two requests)."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.core.extensions import db
from backend.students import Student
from tests.school import World
from tests.spreadsheets.conftest import students_csv


def _students(world: World) -> int:
    with world.app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Student)) or 0)


def test_a_retried_import_runs_once(world: World) -> None:
    before = _students(world)
    first = world.client.post(
        "/api/imports/students",
        data=students_csv(3).encode(),
        content_type="text/csv",
        headers=world.as_("admin") | {"Idempotency-Key": "term-start"},
    )
    again = world.client.post(
        "/api/imports/students",
        data=students_csv(3).encode(),
        content_type="text/csv",
        headers=world.as_("admin") | {"Idempotency-Key": "term-start"},
    )
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert _students(world) == before + 3
    other_file = world.client.post(
        "/api/imports/students",
        data=students_csv(4).encode(),
        content_type="text/csv",
        headers=world.as_("admin") | {"Idempotency-Key": "term-start"},
    )
    assert other_file.status_code == 422 and _students(world) == before + 3


def test_a_dry_run_and_the_import_are_two_requests(world: World) -> None:
    headers = world.as_("admin") | {"Idempotency-Key": "check-then-apply"}
    path, body = "/api/imports/students", students_csv(2).encode()
    dry = world.client.post(
        path, data=body, content_type="text/csv", headers=headers, query_string={"dry_run": "true"}
    )
    assert dry.status_code == 200
    real = world.client.post(path, data=body, content_type="text/csv", headers=headers)
    assert real.status_code == 422  # never the dry run's report for an import that did not happen
    assert real.get_json()["errors"][0]["type"] == "idempotency_key_reused"
