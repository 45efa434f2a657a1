"""A stalled database is not a healthy one: with the TCP path to PostgreSQL frozen (nothing refused,
nothing answered), /ready gives up at its timeout with a 503, API requests fail as 503 problems
within a bounded time, and both recover by themselves when the path thaws."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend.core.extensions import db
from backend.core.markers import public
from backend.tenancy import owner_access
from tests.conftest import AppFactory, auth_headers, make_school, make_user, postgres_only
from tests.faults import FaultProxy, Mode

pytestmark = postgres_only


@pytest.fixture
def stalling_app(make_app: AppFactory, migrated_database: str) -> Iterator[tuple[Flask, FaultProxy]]:
    url = make_url(migrated_database)
    proxy = FaultProxy(url.port or 5432)
    app = make_app(
        DATABASE_URL=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        HEALTH_CHECK_TIMEOUT=1,
        DB_STATEMENT_TIMEOUT_MS=1000,
        DB_CLIENT_TIMEOUT=2,
        DB_CONNECT_TIMEOUT=2,
        DB_POOL_TIMEOUT=2,
    )
    yield app, proxy
    proxy.close()


def _answer(call: Callable[[], Any], within: float = 60) -> Any:
    """Run `call` on a thread; the test fails (instead of hanging) if it never answers."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=within)
    assert result, f"no answer within {within} s"
    return result[0]


def test_a_frozen_database_path_is_a_503_and_heals(stalling_app: tuple[Flask, FaultProxy]) -> None:
    app, proxy = stalling_app
    client = app.test_client()
    headers = auth_headers(client, make_user(app, make_school(app), "admin"))
    assert client.get("/ready").status_code == 200
    assert client.get("/api/students", headers=headers).status_code == 200
    proxy.set(Mode.FREEZE)
    try:
        started = time.monotonic()
        ready = _answer(lambda: app.test_client().get("/ready"))
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"]["status"] == "down"
        assert int(ready.headers["Retry-After"]) > 0
        students = _answer(lambda: app.test_client().get("/api/students", headers=headers))
        assert students.status_code == 503, students.get_json()
        assert students.get_json()["code"] == "service_unavailable"
        elapsed = time.monotonic() - started  # reported, not asserted: a loaded machine is slower
        print(f"both answered {elapsed:.1f} s into the stall")  # noqa: T201
    finally:
        proxy.set(Mode.PASS)
    deadline = time.monotonic() + 30
    statuses: tuple[int, int] = (0, 0)
    while time.monotonic() < deadline and statuses != (200, 200):
        statuses = (
            client.get("/ready").status_code,
            client.get("/api/students", headers=headers).status_code,
        )
        time.sleep(0.2)
    assert statuses == (200, 200)  # recovered by itself: no restart


@pytest.fixture
def deadline_app(make_app: AppFactory, migrated_database: str) -> Iterator[tuple[Flask, FaultProxy]]:
    """The database's own bounds at their production defaults (DB_CLIENT_TIMEOUT 35 s, a 30 s wait
    for a pooled connection): only the request's deadline can answer a frozen database sooner."""
    url = make_url(migrated_database)
    proxy = FaultProxy(url.port or 5432)
    app = make_app(
        DATABASE_URL=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        REQUEST_DEADLINE_SECONDS=2,
        LONG_REQUEST_DEADLINE_SECONDS=60,
        HEALTH_CHECK_TIMEOUT=1,
        DB_POOL_SIZE=2,  # an export holds two: the session's and the one its first rows are read on
        DB_MAX_OVERFLOW=0,
    )
    yield app, proxy
    proxy.set(Mode.PASS)
    proxy.close()


def test_a_frozen_database_costs_a_request_its_deadline(deadline_app: tuple[Flask, FaultProxy]) -> None:
    app, proxy = deadline_app
    client = app.test_client()
    headers = auth_headers(client, make_user(app, make_school(app), "admin"))
    assert client.get("/api/students", headers=headers).status_code == 200
    with proxy.fault(Mode.FREEZE):
        # Both well inside DB_CLIENT_TIMEOUT (35 s): the deadline (2 s) answers them. The first
        # waits on its pooled connection; the second connects afresh, which the deadline bounds too.
        first = _answer(lambda: app.test_client().get("/api/students", headers=headers), within=25)
        second = _answer(lambda: app.test_client().get("/api/students", headers=headers), within=25)
        for response in (first, second):
            assert response.status_code == 503, response.get_json()
            assert response.get_json()["code"] == "service_unavailable"
            assert response.headers["Content-Type"] == "application/problem+json"
        health = _answer(lambda: app.test_client().get("/api/health"), within=25)
        assert health.status_code == 200
        assert health.get_json()["components"]["database"]["status"] == "down"
        assert _answer(lambda: app.test_client().get("/ready"), within=25).status_code == 503
    assert client.get("/api/students", headers=headers).status_code == 200  # healed by itself


def test_a_long_running_route_outlasts_the_ordinary_deadline(deadline_app: tuple[Flask, FaultProxy]) -> None:
    """An export may wait on the database up to LONG_REQUEST_DEADLINE_SECONDS: a freeze longer than
    the ordinary deadline (2 s) but shorter than that ends in a complete export."""
    app, proxy = deadline_app
    client = app.test_client()
    headers = auth_headers(client, make_user(app, make_school(app), "admin"))
    assert client.get("/api/exports/students", headers=headers).status_code == 200
    proxy.set(Mode.FREEZE)
    thaw = threading.Timer(4, proxy.set, args=(Mode.PASS,))
    thaw.start()
    try:
        # Read whole on its thread: the body is streamed from the request's context.
        status, body = _answer(
            lambda: _whole(app.test_client().get("/api/exports/students", headers=headers)), 50
        )
    finally:
        thaw.cancel()
        proxy.set(Mode.PASS)
    assert status == 200
    assert body.splitlines()[0].lstrip("\ufeff").startswith("admission_number,")


def _whole(response: Any) -> tuple[int, str]:
    return response.status_code, response.get_data(as_text=True)


def test_a_query_its_request_gave_up_on_does_not_run_on(make_app: AppFactory) -> None:
    """A slow but live database: the request answers 503 at its deadline and closes the
    connection, and the server cancels the statement (client_connection_check_interval) instead of
    running it to its statement timeout while the pool opens another connection."""
    app = make_app(REQUEST_DEADLINE_SECONDS=1, DB_STATEMENT_TIMEOUT_MS=120_000, DB_CLIENT_TIMEOUT=150)
    marker = f"slow-{uuid.uuid4().hex}"
    slow = Blueprint("slow_statement", __name__)

    def sleeper() -> dict[str, str]:
        db.session.execute(text(f"SELECT pg_sleep(60) /* {marker} */"))
        return {}

    slow.add_url_rule("/api/_test/slow", "slow", public(sleeper))
    app.register_blueprint(slow)
    response = _answer(lambda: app.test_client().get("/api/_test/slow"), within=30)
    assert response.status_code == 503
    running = 1
    for _ in range(100):  # bounded: about 10 s for the server to notice; pg_sleep would take 60
        with app.app_context(), owner_access("test: who is running"):
            running = db.session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :q AND pid <> pg_backend_pid()"),
                {"q": f"%{marker}%"},
            )
            db.session.remove()
        if not running:
            break
        time.sleep(0.1)
    assert running == 0
