"""Under the real server (Gunicorn with the project's worker and configuration), an export whose
database fails midway never ends like a finished one: the chunked body stops without its final
chunk, so a client sees the download is incomplete; the log has the error event and an access line
with `outcome: cut`. The failure is real (tests/spreadsheets/cutting_app.py): SQLite's statement is
interrupted, PostgreSQL's backend terminated."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    RUN_ENCRYPTION_KEY,
    RUN_JWT_KEY,
    AppFactory,
    auth_headers,
    make_school,
    make_user,
)
from tests.serving.conftest import Server, gunicorn  # noqa: F401  (the fixture, reused)
from tests.spreadsheets.conftest import students_csv

EXPORT = "/api/exports/students"


@pytest.fixture
def cutting_server(gunicorn: Callable[..., Server]) -> Server:  # noqa: F811  (the fixture imported above)
    """Gunicorn serving tests/spreadsheets/cutting_app.py on the test database."""
    return gunicorn(
        "tests.spreadsheets.cutting_app:application",
        JWT_SECRET_KEY=RUN_JWT_KEY,  # the test's tokens are good there: no sign-in through it
        ENCRYPTION_KEYS=RUN_ENCRYPTION_KEY,
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
        GUNICORN_DRAIN_SECONDS="0",
        GUNICORN_GRACEFUL_TIMEOUT="5",
    )


def test_an_export_cut_midway_never_ends_like_a_finished_one(
    make_app: AppFactory, cutting_server: Server
) -> None:
    port, log_path = cutting_server.port, cutting_server.log_path
    app = make_app()
    admin = make_user(app, make_school(app), "admin")
    client = app.test_client()
    headers = auth_headers(client, admin)
    imported = client.post(
        "/api/imports/students", data=students_csv(8).encode(), content_type="text/csv", headers=headers
    )
    assert imported.status_code == 200, imported.get_json()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", EXPORT, headers=headers)
        response = connection.getresponse()
        assert (response.status, response.getheader("Transfer-Encoding")) == (200, "chunked")
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
    finally:
        connection.close()
    rows = cut.value.partial.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("admission_number,") and 2 <= len(rows) < 9  # the header and some rows
    request_id = response.getheader("X-Request-ID")
    lines = _lines_of(log_path, request_id)
    assert [line["event"] for line in lines if line["level"] == "error"] == ["response_cut", "request"]
    [access] = [line for line in lines if line.get("logger") == "homeroom.access"]
    assert (access["status"], access["outcome"]) == (200, "cut")


def _lines_of(log_path: Path, request_id: str | None) -> list[dict[str, Any]]:
    """The server's JSON log lines for one request (written before it closed the connection)."""
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("request_id") == request_id]
