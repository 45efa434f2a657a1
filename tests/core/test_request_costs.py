"""What a request costs the servers behind it: probes touch neither the limiter nor Redis, a limited
request is one pipelined hit, session state is read once per local window, reads need no
transaction, and a GET that writes must say so."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from flask import Blueprint
from sqlalchemy import event, select

from backend.core.extensions import db
from backend.core.markers import public, writes
from backend.schools.models import School
from tests.conftest import RedisServer, bearer, login, make_school, make_user, postgres_only

LOCAL_SECONDS = 1.0


OWN_COMMANDS = {"config|resetstat", "info", "hello", "client|setinfo"}  # this test's own client


def _commands(redis_server: RedisServer) -> dict[str, int]:
    """Commands the app sent since the statistics were reset."""
    stats = redis_server.client().info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    return {name: count for name, count in calls.items() if name not in OWN_COMMANDS}


def test_probes_touch_neither_the_limiter_nor_redis(make_app, redis_server: RedisServer) -> None:
    app = make_app(REDIS_URL=redis_server.url)
    client = app.test_client()
    redis_server.client().config_resetstat()
    for _ in range(10):
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
    assert _commands(redis_server) == {}
    assert "X-RateLimit-Limit" not in client.get("/health").headers


def test_a_limited_request_is_one_hit_and_its_headers_come_with_it(
    make_app, redis_server: RedisServer
) -> None:
    app = make_app(
        REDIS_URL=redis_server.url, AUTH_STATE_LOCAL_SECONDS=10, RATE_LIMIT_DEFAULT="100 per minute"
    )
    school = make_school(app)
    token = login(app.test_client(), make_user(app, school))["access_token"]
    client = app.test_client()
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200  # Redis has the scripts now
    redis_server.client().config_resetstat()
    remaining = []
    for _ in range(5):
        response = client.get("/api/auth/me", headers=bearer(token))
        assert response.status_code == 200
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "100"
    assert remaining == [98, 97, 96, 95, 94]
    calls = _commands(redis_server)
    # Per request the hit and the window read, sent together in one pipeline (the commands the
    # scripts run inside Redis are counted too); the session state is read locally.
    assert calls["evalsha"] == 2 * 5
    assert "script|exists" not in calls and "script|load" not in calls and "ttl" not in calls
    assert "get" not in calls


def test_a_revocation_in_another_process_is_seen_within_the_local_bound(
    make_app, redis_server: RedisServer
) -> None:
    first = make_app(REDIS_URL=redis_server.url, AUTH_STATE_LOCAL_SECONDS=LOCAL_SECONDS)
    second = make_app(REDIS_URL=redis_server.url, AUTH_STATE_LOCAL_SECONDS=LOCAL_SECONDS)
    school = make_school(first)
    token = login(first.test_client(), make_user(first, school))["access_token"]
    assert first.test_client().get("/api/auth/me", headers=bearer(token)).status_code == 200
    # Signed out through the other process: it forgets the state there and in Redis at once.
    assert second.test_client().post("/api/auth/logout", headers=bearer(token), json={}).status_code == 204
    assert second.test_client().get("/api/auth/me", headers=bearer(token)).status_code == 401
    time.sleep(LOCAL_SECONDS + 0.2)  # the first process's copy has expired by now, however slow the machine
    assert first.test_client().get("/api/auth/me", headers=bearer(token)).status_code == 401


@postgres_only
def test_reads_run_outside_a_transaction_and_writes_inside_one(make_app) -> None:
    app = make_app()
    school = make_school(app)
    headers = bearer(login(app.test_client(), make_user(app, school))["access_token"])
    client = app.test_client()
    created = client.post(
        "/api/students",
        headers=headers,
        json={
            "admission_number": "C-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "date_of_birth": "2015-01-02",
            "grade_level": 5,
            "enrolled_on": "2024-09-01",
        },
    )
    assert created.status_code == 201, created.get_json()
    with app.app_context():
        engine = db.engine
    states: list[str] = []

    def record(connection: Any, *_: Any) -> None:
        states.append(connection.connection.dbapi_connection.info.transaction_status.name)

    event.listen(engine, "after_cursor_execute", record)
    try:
        assert client.get("/api/students", headers=headers).status_code == 200
        reads, states[:] = list(states), []
        student = created.get_json()["id"]
        assert (
            client.patch(f"/api/students/{student}", headers=headers, json={"grade_level": 6}).status_code
            == 200
        )
        written = list(states)
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert reads and set(reads) == {"IDLE"}  # autocommit: no BEGIN before, no ROLLBACK after
    assert "INTRANS" in written


@pytest.mark.parametrize("declared", [False, True])
def test_a_get_that_writes_must_say_so(make_app, declared: bool) -> None:
    app = make_app()
    probe = Blueprint(f"writes_{declared}", __name__)
    slug = f"get-writes-{uuid.uuid4().hex[:8]}"

    def create_school() -> dict[str, str]:
        db.session.add(School(name="Made by a GET", slug=slug, timezone="UTC", currency="GBP"))
        db.session.commit()
        return {"slug": slug}

    view = public(writes(create_school) if declared else create_school)
    probe.add_url_rule("/api/_test/get-writes", view_func=view, methods=["GET"])
    app.register_blueprint(probe)
    response = app.test_client().get("/api/_test/get-writes")
    with app.app_context():
        stored = db.session.scalar(select(School.id).where(School.slug == slug))
    if declared:
        assert response.status_code == 200 and stored is not None
    else:
        assert response.status_code == 500 and stored is None
