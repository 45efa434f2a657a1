"""The request pipeline: request ids, access log, secrets kept out of logs, headers, CORS, proxies."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog
from flask import Blueprint, Flask

from backend.config import settings_from
from backend.core.logging import configure_logging
from backend.core.markers import public
from tests.conftest import AppFactory

ALLOWED_ORIGIN = "https://app.example.org"
log = structlog.get_logger("tests.http")


def _routes() -> Blueprint:
    bp = Blueprint("http_probe", __name__, url_prefix="/api/_test")

    @bp.post("/login")
    @public
    def login() -> Any:
        log.info("login_attempt", password="hunter2-hunter2", details={"refresh_token": "rt-secret-value"})
        return {"ok": True}

    @bp.get("/ok")
    @public
    def ok() -> Any:
        log.info("inside_view")
        return {"ok": True}

    @bp.get("/boom")
    @public
    def boom() -> Any:
        raise RuntimeError("boom")

    return bp


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    app.register_blueprint(_routes())
    return app.test_client()


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("logger") == "homeroom.access"]


# --- request id ---------------------------------------------------------------------------------


def test_valid_incoming_request_id_is_kept(client) -> None:
    response = client.get("/api/_test/ok", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert response.headers["X-Request-ID"] == "abc.DEF_123-x"


@pytest.mark.parametrize("incoming", ["", "x" * 129, "bad id", "a/b", "<script>", "é"])
def test_invalid_incoming_request_id_is_replaced(client, incoming: str) -> None:
    response = client.get("/api/_test/ok", headers={"X-Request-ID": incoming})
    generated = response.headers["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_longest_valid_request_id_is_kept(client) -> None:
    incoming = "a" * 128
    assert client.get("/api/_test/ok", headers={"X-Request-ID": incoming}).headers["X-Request-ID"] == incoming


def test_each_request_gets_its_own_id(client) -> None:
    ids = {client.get("/api/_test/ok").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_request_id_is_bound_to_every_log_line_of_the_request(client, logs) -> None:
    logs()
    response = client.get("/api/_test/ok", headers={"X-Request-ID": "req-42"})
    lines = logs()
    inside = [line for line in lines if line["event"] == "inside_view"]
    assert inside and inside[0]["request_id"] == "req-42"
    assert access_lines(lines)[0]["request_id"] == response.headers["X-Request-ID"]


# --- access log ---------------------------------------------------------------------------------


def test_one_access_line_per_request_with_its_fields(client, logs) -> None:
    logs()
    client.get("/api/_test/ok?x=1", headers={"User-Agent": "SPA/1.0"})
    lines = access_lines(logs())
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == "/api/_test/ok"
    assert line["route"] == "/api/_test/ok"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["bytes"] > 0
    assert line["client_ip"] == "127.0.0.1"
    assert line["user_agent"] == "SPA/1.0"
    assert line["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "status", "level"),
    [
        ("/api/_test/ok", 200, "info"),
        ("/api/nothing-here", 404, "warning"),
        ("/api/_test/boom", 500, "error"),
    ],
)
def test_access_level_follows_status_class(client, logs, path: str, status: int, level: str) -> None:
    logs()
    client.get(path)
    line = access_lines(logs())[0]
    assert (line["status"], line["level"]) == (status, level)


def test_user_agent_is_truncated(client, logs) -> None:
    logs()
    client.get("/api/_test/ok", headers={"User-Agent": "U" * 1000})
    assert access_lines(logs())[0]["user_agent"] == "U" * 200


def test_probes_stay_out_of_the_access_log_by_default(client, logs) -> None:
    logs()
    client.get("/health")
    client.get("/ready")
    client.get("/api/health")
    assert [line["path"] for line in access_lines(logs())] == ["/api/health"]


def test_probes_can_be_logged(make_app: AppFactory, logs) -> None:
    client = make_app(ACCESS_LOG_PROBES=True).test_client()
    logs()
    client.get("/health")
    assert [line["path"] for line in access_lines(logs())] == ["/health"]


def test_credentials_never_reach_the_log(client, logs) -> None:
    logs()
    client.post(
        "/api/_test/login",
        json={"email": "a@b.test", "password": "hunter2-hunter2"},
        headers={
            "Authorization": "Bearer eyJhbGciOi.secret-access-token",
            "Cookie": "refresh=rt-cookie-secret",
        },
    )
    lines = logs()
    text = json.dumps(lines)
    for secret in ("hunter2-hunter2", "secret-access-token", "rt-cookie-secret", "rt-secret-value"):
        assert secret not in text
    attempt = next(line for line in lines if line["event"] == "login_attempt")
    assert attempt["password"] == "[redacted]"
    assert attempt["details"] == {"refresh_token": "[redacted]"}


def test_standard_library_logs_share_the_pipeline(client, logs) -> None:
    import logging

    logs()
    logging.getLogger("gunicorn.error").warning("worker %s booted", 7, extra={"api_key": "k-123"})
    line = next(line for line in logs() if line.get("logger") == "gunicorn.error")
    assert line["event"] == "worker 7 booted"
    assert line["level"] == "warning"
    assert line["api_key"] == "[redacted]"
    assert line["timestamp"].endswith("Z")


def test_console_format_is_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_from(APP_ENV="development", LOG_FORMAT="console"))
    try:
        structlog.get_logger("tests").info("hello_console", answer=42)
        out = capsys.readouterr().out
        assert "hello_console" in out and "answer=42" in out
        assert not out.lstrip().startswith("{")
    finally:
        configure_logging(settings_from(APP_ENV="testing", LOG_FORMAT="json"))


def test_own_lines_skip_the_standard_library_handlers(client, logs) -> None:
    """Homeroom's lines (the access line of every request among them) are rendered and written by
    structlog itself, not through `logging`'s handler chain and its lock; the standard library's
    own lines still go through the root handler."""
    import logging

    class Spy(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.names.append(record.name)

    spy = Spy()
    logging.getLogger().addHandler(spy)
    try:
        logs()
        client.get("/api/_test/ok")
        logging.getLogger("gunicorn.error").warning("from the standard library")
    finally:
        logging.getLogger().removeHandler(spy)
    events = [line["event"] for line in logs()]
    assert events == ["inside_view", "request", "from the standard library"]
    assert spy.names == ["gunicorn.error"]


def test_a_new_level_applies_to_loggers_already_in_use(make_app: AppFactory, logs) -> None:
    """structlog caches each logger on first use; the level is read per event, so a later
    configuration (another app in the process, a test) still decides what is written."""
    quiet = make_app(LOG_LEVEL="WARNING")
    quiet.register_blueprint(_routes())
    logs()
    quiet.test_client().get("/api/_test/ok")
    assert logs() == []  # the view's info line and the 200's access line are under WARNING
    loud = make_app(LOG_LEVEL="INFO")
    loud.register_blueprint(_routes())
    loud.test_client().get("/api/_test/ok")
    assert [line["event"] for line in logs()] == ["inside_view", "request"]


# --- proxies ------------------------------------------------------------------------------------


def test_forwarded_for_is_ignored_without_trusted_hops(client, logs) -> None:
    logs()
    client.get("/api/_test/ok", headers={"X-Forwarded-For": "203.0.113.7"})
    assert access_lines(logs())[0]["client_ip"] == "127.0.0.1"


def test_trusted_hop_supplies_the_client_ip(make_app: AppFactory, logs) -> None:
    app = make_app(TRUSTED_PROXY_HOPS=1)
    app.register_blueprint(_routes())
    logs()
    app.test_client().get("/api/_test/ok", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert access_lines(logs())[0]["client_ip"] == "203.0.113.7"  # only the last hop is trusted


# --- security headers ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/api/_test/ok", "/api/nothing-here", "/api/_test/boom"])
def test_security_headers_on_every_response(client, path: str) -> None:
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers


def test_hsts_when_https_is_forced(make_app: AppFactory) -> None:
    headers = make_app(FORCE_HTTPS=True).test_client().get("/health").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000")


# --- CORS ---------------------------------------------------------------------------------------


@pytest.fixture
def cors_client(make_app: AppFactory):  # type: ignore[no-untyped-def]
    app = make_app(CORS_ORIGINS=f"{ALLOWED_ORIGIN}, http://localhost:5173")
    app.register_blueprint(_routes())
    return app.test_client()


def test_allowed_origin_gets_cors_headers(cors_client) -> None:
    headers = cors_client.get("/api/_test/ok", headers={"Origin": ALLOWED_ORIGIN}).headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert headers["Access-Control-Allow-Credentials"] == "true"
    exposed = {h.strip().lower() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "retry-after", "x-ratelimit-remaining"} <= exposed


def test_preflight_allows_the_api_headers(cors_client) -> None:
    response = cors_client.options(
        "/api/_test/login",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization, idempotency-key, x-request-id",
        },
    )
    assert response.status_code == 200
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "authorization", "idempotency-key", "x-request-id"}
    assert headers["Access-Control-Max-Age"] == "600"


def test_preflight_refuses_other_headers(cors_client) -> None:
    response = cors_client.options(
        "/api/_test/login",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-evil",
        },
    )
    assert "x-evil" not in response.headers.get("Access-Control-Allow-Headers", "").lower()


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example.org.evil.test", "null"])
def test_unlisted_origin_gets_no_cors_headers(cors_client, origin: str) -> None:
    response = cors_client.get("/api/_test/ok", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = cors_client.options(
        "/api/_test/ok",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_applies_to_error_responses(cors_client) -> None:
    response = cors_client.get("/api/nothing-here", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_cors_only_on_the_api(cors_client) -> None:
    response = cors_client.get("/health", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_origins_configured_means_no_cors(client) -> None:
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/api/_test/ok", headers={"Origin": ALLOWED_ORIGIN}).headers
    )
