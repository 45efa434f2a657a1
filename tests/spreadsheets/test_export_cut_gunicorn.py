"""Under the real server (Gunicorn with the project's worker and configuration), an export whose
database fails midway never ends like a finished one: the chunked body stops without its final
chunk, so a client sees the download is incomplete; the log has the error event and an access line
with `outcome: cut`. The failure is real (tests/spreadsheets/cutting_app.py): SQLite's statement is
interrupted, PostgreSQL's backend terminated."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.config import PROJECT_ROOT
from tests.conftest import (
    RUN_ENCRYPTION_KEY,
    RUN_JWT_KEY,
    AppFactory,
    auth_headers,
    free_port,
    make_school,
    make_user,
)
from tests.serving.conftest import GUNICORN, get
from tests.spreadsheets.conftest import students_csv

START_TIMEOUT = 30.0
EXPORT = "/api/exports/students"


@pytest.fixture
def cutting_server(migrated_database: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Gunicorn serving tests/spreadsheets/cutting_app.py on the test database: its port and log."""
    port, log_path = free_port(), tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "HOMEROOM_ENV_FILE": "",
        "APP_ENV": "testing",
        "LOG_FORMAT": "json",
        "DATABASE_URL": migrated_database,
        "JWT_SECRET_KEY": RUN_JWT_KEY,  # the test's tokens are good there: no sign-in through it
        "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
        "PORT": str(port),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_DRAIN_SECONDS": "0",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
    }
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [GUNICORN, "--config", "gunicorn_config.py", "tests.spreadsheets.cutting_app:application"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(process, port, log_path)
        yield port, log_path
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if get(port, "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /health in time")


def test_an_export_cut_midway_never_ends_like_a_finished_one(
    make_app: AppFactory, cutting_server: tuple[int, Path]
) -> None:
    port, log_path = cutting_server
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
