"""A retried create with an `Idempotency-Key` creates once: an assessment, the create the load test
saw stored twice. The key is optional; the same key with another request is refused; keys are
per school; and the change, the key and the stored response commit together or not at all."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from backend.core import idempotency
from backend.core.extensions import db
from backend.grades import Assessment
from tests.conftest import postgres_only
from tests.school import TERM, World

QUIZ = {"title": "Quiz", "category": "quiz", "max_score": 20}


def _create(world: World, key: str | None, body: dict[str, Any] = QUIZ, who: str = "teacher") -> TestResponse:
    headers = world.as_(who) | ({"Idempotency-Key": key} if key is not None else {})
    return world.client.post(f"/api/classes/{world.ids['maths']}/assessments", json=body, headers=headers)


def _assessments(world: World, title: str = "Quiz") -> int:
    with world.app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.title == title)
        )
        return int(count or 0)


def test_a_retried_create_with_the_same_key_stores_one_row_and_replays_the_answer(world: World) -> None:
    first = _create(world, "quiz-1")
    again = _create(world, "quiz-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _assessments(world) == 1
    listed = world.client.get(f"/api/classes/{world.ids['maths']}/assessments", headers=world.as_("teacher"))
    assert [item["id"] for item in listed.get_json()["items"]] == [first.get_json()["id"]]


def test_the_same_key_with_another_body_is_refused(world: World) -> None:
    assert _create(world, "quiz-2").status_code == 201
    response = _create(world, "quiz-2", QUIZ | {"max_score": 25})
    assert response.status_code == 422
    assert response.get_json()["errors"][0] == {
        "field": "header.Idempotency-Key",
        "message": "This key was used for a different request.",
        "type": "idempotency_key_reused",
    }
    assert _assessments(world) == 1


def test_keys_belong_to_the_school(world: World) -> None:
    assert _create(world, "shared-key").status_code == 201
    # School B's admin, same key, same path and body: never school A's stored answer.
    trespass = _create(world, "shared-key", who="other_school_admin")
    assert trespass.status_code == 404 and "Idempotent-Replayed" not in trespass.headers
    # In their own class, the key is theirs: a create of their own, neither a replay nor a 422.
    headers = world.as_("other_school_admin")
    term = world.client.post("/api/terms", json=TERM, headers=headers).get_json()["id"]
    body = {"name": "B Maths", "subject": "Maths", "grade_level": 5, "term_id": term}
    their_class = world.client.post("/api/classes", json=body, headers=headers).get_json()["id"]
    theirs = world.client.post(
        f"/api/classes/{their_class}/assessments",
        json=QUIZ,
        headers=headers | {"Idempotency-Key": "shared-key"},
    )
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert _assessments(world) == 2


def test_without_a_key_every_request_creates_as_before(world: World) -> None:
    assert _create(world, None).status_code == 201
    assert _create(world, None).status_code == 201
    assert _assessments(world) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_a_malformed_key_is_refused(world: World, key: str) -> None:
    response = _create(world, key)
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["detail"]
    assert _assessments(world) == 0


def test_a_refused_request_keeps_no_key(world: World) -> None:
    refused = _create(world, "fix-and-retry", QUIZ | {"max_score": 0})
    assert refused.status_code == 422 and _assessments(world) == 0
    assert _create(world, "fix-and-retry").status_code == 201  # the key was not spent on the refusal


def test_the_change_commits_only_with_its_stored_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service commits for itself; under a key that commit waits for the stored response, so a
    failure between the two (here: storing it) leaves neither the assessment nor the key."""

    def fail(_response: Any) -> Any:
        raise RuntimeError("the process died before the response was stored")

    monkeypatch.setattr(idempotency, "_kept", fail)
    assert _create(world, "crash").status_code == 500
    assert _assessments(world) == 0
    monkeypatch.undo()
    assert _create(world, "crash").status_code == 201  # the key was never stored: it runs afresh
    assert _assessments(world) == 1


def test_location_and_status_replay_too(world: World) -> None:
    body = {
        "admission_number": "A-100",
        "first_name": "Cleo",
        "last_name": "Cole",
        "date_of_birth": "2015-06-01",
        "grade_level": 5,
        "enrolled_on": TERM["starts_on"],
    }
    headers = world.as_("admin") | {"Idempotency-Key": "admit-cleo"}
    first = world.client.post("/api/students", json=body, headers=headers)
    again = world.client.post("/api/students", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Location"] == first.headers["Location"] == f"/api/students/{first.get_json()['id']}"
    assert again.get_data() == first.get_data()  # the very bytes, key order included


@postgres_only
def test_concurrent_duplicates_make_one_assessment(world: World) -> None:
    barrier = threading.Barrier(8)
    answers: list[tuple[int, Any]] = []

    def submit(client: FlaskClient) -> None:
        barrier.wait()
        response = client.post(
            f"/api/classes/{world.ids['maths']}/assessments",
            json=QUIZ,
            headers=world.as_("teacher") | {"Idempotency-Key": f"burst-{key}"},
        )
        answers.append((response.status_code, response.get_json()))

    key = uuid.uuid4().hex
    threads = [threading.Thread(target=submit, args=(world.app.test_client(),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ in answers] == [201] * 8
    assert len({body["id"] for _, body in answers}) == 1
    assert _assessments(world) == 1
