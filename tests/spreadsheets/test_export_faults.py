"""Exports when the database fails, with real faults: PostgreSQL's connection reset through the TCP
proxy (tests/faults.py), SQLite's statement interrupted (a progress handler).

Before the first row, the failure is the usual 503 problem, never a 200 with only the header. After
some rows, the response ends without its final chunk (a client sees the download is incomplete),
an error event names the failure and the access line says `outcome: cut` (a real server in a
thread: only a real server shows the transfer framing)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, request_finished
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from backend.core.extensions import db
from backend.spreadsheets import exports
from tests.conftest import ON_POSTGRES, AppFactory
from tests.faults import FaultProxy, Mode
from tests.school import World
from tests.spreadsheets.conftest import post_csv, students_csv

Logs = Callable[[], list[dict[str, Any]]]
EXPORT = "/api/exports/students"


@pytest.fixture
def proxy(migrated_database: str) -> Iterator[FaultProxy | None]:
    """On PostgreSQL, a proxy in front of the server (None on SQLite)."""
    if not ON_POSTGRES:
        yield None
        return
    fault_proxy = FaultProxy(make_url(migrated_database).port or 5432)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def app(make_app: AppFactory, migrated_database: str, proxy: FaultProxy | None) -> Flask:
    """The app the `world` is built on: on PostgreSQL, connected through the proxy."""
    if proxy is None:
        return make_app()
    url = make_url(migrated_database).set(host="127.0.0.1", port=proxy.port)
    return make_app(DATABASE_URL=url.render_as_string(hide_password=False))


def fail(connection: Connection, proxy: FaultProxy | None) -> None:
    """Make the connection's next step fail: PostgreSQL's connection is reset; SQLite's running
    statement is interrupted (once)."""
    if proxy is not None:
        proxy.set(Mode.RESET)
        proxy.set(Mode.PASS)
        return
    interrupted = False

    def interrupt() -> int:
        nonlocal interrupted
        first, interrupted = not interrupted, True
        return 1 if first else 0

    connection.connection.dbapi_connection.set_progress_handler(interrupt, 1)  # type: ignore[union-attr]  # sqlite3's


def _access_lines(logs: Logs) -> list[dict[str, Any]]:
    return [line for line in logs() if line.get("logger") == "homeroom.access" and line.get("path") == EXPORT]


@contextmanager
def export_queries(app: Flask, seen: Callable[[Connection], None]) -> Iterator[None]:
    """Call `seen` with the connection each students export runs its query on, as it starts."""
    with app.app_context():
        engine = db.engine

    def before(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM students" in statement and "admission_number" in statement:
            seen(connection)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_database_failing_before_the_first_row_is_a_503(
    world: World, proxy: FaultProxy | None, logs: Logs
) -> None:
    queries: list[Connection] = []

    def fail_at_once(connection: Connection) -> None:
        queries.append(connection)
        fail(connection, proxy)

    with export_queries(world.app, fail_at_once):
        response = world.client.get(EXPORT, headers=world.as_("admin"))
    assert len(queries) == 1, "the export's query never ran"
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "service_unavailable" and "Retry-After" in response.headers
    assert [(line["status"], line["level"]) for line in _access_lines(logs)] == [(503, "error")]
    # And once the database answers again, so does the export.
    assert world.client.get(EXPORT, headers=world.as_("admin")).status_code == 200


def test_a_finished_export_is_logged_when_its_last_byte_is_sent(world: World, logs: Logs) -> None:
    response = world.client.get(EXPORT, headers=world.as_("admin"))
    body = response.get_data()
    response.close()
    [line] = _access_lines(logs)
    assert (line["status"], line["outcome"], line["bytes"], line["level"]) == (
        200,
        "complete",
        len(body),
        "info",
    )
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_an_abandoned_export_gives_its_connection_back(world: World, logs: Logs) -> None:
    with world.app.app_context():
        pool = db.engine.pool
    response = world.client.get(EXPORT, headers=world.as_("admin"))
    chunks = iter(response.response)
    assert next(chunks).decode("utf-8-sig").startswith("admission_number,")
    response.close()  # the client went away after the first chunk
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool's
    [line] = _access_lines(logs)
    assert (line["status"], line["outcome"]) == (200, "closed_early")
    head = world.client.head(EXPORT, headers=world.as_("admin"))
    head.close()
    assert head.status_code == 200 and pool.checkedout() == 0  # type: ignore[attr-defined]
    assert [line["outcome"] for line in _access_lines(logs)] == ["complete"]  # a HEAD has no body to cut


@contextmanager
def serving(app: Flask) -> Iterator[int]:
    """The app behind werkzeug's threaded HTTP/1.1 server on 127.0.0.1; its port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_failure_after_some_rows_cuts_the_response(
    world: World, proxy: FaultProxy | None, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post_csv(world, "students", students_csv(8, start=10)).status_code == 200
    monkeypatch.setattr(exports, "BATCH", 2)  # rows come in batches of two: the cut falls between
    queries: list[Connection] = []

    def once_the_status_is_sent(_app: Flask, response: Any, **_extra: Any) -> None:
        if response.mimetype == "text/csv":  # the first batch is read; the rest would follow
            fail(queries[-1], proxy)

    request_finished.connect(once_the_status_is_sent, world.app)
    try:
        with export_queries(world.app, queries.append), serving(world.app) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", EXPORT, headers=world.as_("admin"))
            response = connection.getresponse()
            assert (response.status, response.getheader("Transfer-Encoding")) == (200, "chunked")
            with pytest.raises(http.client.IncompleteRead) as cut:
                response.read()
            connection.close()
    finally:
        request_finished.disconnect(once_the_status_is_sent, world.app)
    rows = cut.value.partial.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("admission_number,") and 2 <= len(rows) < 11  # the header, some rows
    lines = logs()
    [error] = [line for line in lines if line.get("event") == "response_cut"]
    assert (error["level"], error["path"], error["error_type"]) == ("error", EXPORT, "OperationalError")
    [access] = _access_lines(logs=lambda: lines)
    assert (access["status"], access["outcome"], access["level"]) == (200, "cut", "error")
    assert access["request_id"] == error["request_id"] == response.getheader("X-Request-ID")
