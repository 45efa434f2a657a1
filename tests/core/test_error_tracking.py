"""Sentry against a real HTTP server on 127.0.0.1 standing in for the ingest endpoint: a forced 500
sends one event carrying the request id and none of the request's secrets or personal data."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from flask import Blueprint

from backend.config import PROJECT_ROOT
from backend.core.markers import public
from tests.conftest import AppFactory

SECRETS = {
    "bearer": "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig-0123456789",
    "cookie": "refresh-cookie-value-98765",
    "password": "hunter2-correct-horse",
    "email": "parent.person@example.org",
    "query_token": "query-token-55555",
    "allergy": "Peanut-anaphylaxis-7",
    "notes": "sees-a-cardiologist-weekly",
}


class Ingest(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        Ingest.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def ingest() -> Iterator[int]:
    Ingest.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join(timeout=5)


def _events(raw: list[bytes]) -> list[dict[str, Any]]:
    """The `event` items of the envelopes received."""
    events = []
    for envelope in raw:
        lines = envelope.split(b"\n")
        for index, line in enumerate(lines[1:-1], start=1):
            try:
                header = json.loads(line)
            except ValueError:
                continue
            if isinstance(header, dict) and header.get("type") == "event":
                events.append(json.loads(lines[index + 1]))
    return events


def test_a_crash_reaches_sentry_without_secrets(make_app: AppFactory, ingest: int) -> None:
    import sentry_sdk

    app = make_app(SENTRY_DSN=f"http://publickey@127.0.0.1:{ingest}/42")
    crash = Blueprint("crash", __name__)

    @crash.post("/api/test-crash")
    @public
    def crash_view() -> None:
        raise RuntimeError(f"boom for {SECRETS['email']} with token {SECRETS['bearer']}")

    app.register_blueprint(crash)
    try:
        response = app.test_client().post(
            f"/api/test-crash?token={SECRETS['query_token']}&email={SECRETS['email']}",
            json={
                "password": SECRETS["password"],
                "email": SECRETS["email"],
                "allergies": [{"allergen": SECRETS["allergy"]}],
                "notes": SECRETS["notes"],
            },
            headers={
                "Authorization": f"Bearer {SECRETS['bearer']}",
                "Cookie": f"homeroom_refresh={SECRETS['cookie']}",
                "X-Request-ID": "crash-request-1",
            },
        )
        assert response.status_code == 500
        assert response.get_json()["request_id"] == "crash-request-1"
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
    [event] = _events(Ingest.received)
    assert event["tags"]["request_id"] == "crash-request-1"
    assert event["environment"] == "testing" and event["release"].startswith("homeroom@")
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    everything = b"".join(Ingest.received).decode("utf-8", "replace")
    leaked = {name for name, secret in SECRETS.items() if secret in everything}
    assert leaked == set(), leaked


def test_without_a_dsn_sentry_is_not_even_imported() -> None:
    code = (
        "import sys\n"
        "from backend import create_app\n"
        "app = create_app()\n"
        "app.test_client().get('/health')\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    environment = {
        **os.environ,
        "HOMEROOM_ENV_FILE": "",
        "DATABASE_URL": "sqlite:///:memory:",
        "LOG_LEVEL": "ERROR",
    }
    environment.pop("SENTRY_DSN", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def _crash_report(app: Any, path: str) -> dict[str, Any]:
    """POST to a route that fails with a 500, and the one event Sentry received for it."""
    import sentry_sdk

    try:
        assert app.test_client().post(path, json={}).status_code == 500
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
    [event] = _events(Ingest.received)
    return event


def test_a_database_error_reaches_sentry_without_its_values(make_app: AppFactory, ingest: int) -> None:
    from sqlalchemy import text

    from backend.core.extensions import db

    name = "Quackenbush Sentinel-Row"  # not an email (those are masked anyway): a pupil's name
    app = make_app(SENTRY_DSN=f"http://publickey@127.0.0.1:{ingest}/42")
    failing = Blueprint("failing_insert", __name__)

    @failing.post("/api/test-failing-insert")
    @public
    def failing_view() -> None:
        # NOT NULL violation: the bound value, and PostgreSQL's "Failing row contains (...)" detail
        db.session.execute(text("INSERT INTO schools (name) VALUES (:name)"), {"name": name})

    app.register_blueprint(failing)
    event = _crash_report(app, "/api/test-failing-insert")
    assert event["exception"]["values"][-1]["type"] == "DatabaseErrorInLog"
    everything = b"".join(Ingest.received).decode("utf-8", "replace")
    assert name not in everything, everything[
        max(0, everything.find(name) - 400) : everything.find(name) + 60
    ]


def test_our_log_lines_are_breadcrumbs_of_the_report_and_redacted(make_app: AppFactory, ingest: int) -> None:
    """Homeroom's own lines bypass the standard library's handlers (and so Sentry's logging
    integration); they still reach the next report as breadcrumbs, after redaction."""
    import structlog

    app = make_app(SENTRY_DSN=f"http://publickey@127.0.0.1:{ingest}/42")
    crash = Blueprint("crash_after_a_line", __name__)

    @crash.post("/api/test-crash-after-a-line")
    @public
    def crash_view() -> None:
        structlog.get_logger("homeroom.test").warning(
            "about_to_fail", step="three", password=SECRETS["password"]
        )
        raise RuntimeError("boom")

    app.register_blueprint(crash)
    event = _crash_report(app, "/api/test-crash-after-a-line")
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("message") == "about_to_fail"]
    assert len(crumbs) == 1
    assert crumbs[0]["category"] == "homeroom.test" and crumbs[0]["level"] == "warning"
    assert crumbs[0]["data"]["step"] == "three"
    assert SECRETS["password"] not in json.dumps(event)
