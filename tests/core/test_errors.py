"""Every error is an RFC 9457 problem+json body with a stable code and the request id."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest
from flask import Blueprint, Flask, abort
from pydantic import Field
from sqlalchemy import text
from werkzeug.serving import make_server

from backend.core import errors
from backend.core.extensions import db
from backend.core.markers import public
from backend.core.validation import InputModel, parse_body
from backend.tenancy import owner_access
from tests.conftest import UNREACHABLE_DATABASE_URL, AppFactory

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "request_id"}


class PaymentIn(InputModel):
    amount_cents: int = Field(gt=0)
    method: str
    note: str | None = None


def _test_routes() -> Blueprint:
    bp = Blueprint("error_probe", __name__, url_prefix="/api/_test")

    @bp.get("/raise/<int:status>")
    @public
    def raise_status(status: int) -> Any:
        raised: dict[int, errors.ApiError] = {
            400: errors.BadRequest("Bad thing."),
            401: errors.Unauthorized("No token."),
            403: errors.Forbidden("Not for you."),
            404: errors.NotFound("Student not found."),
            409: errors.Conflict("Already exists."),
            422: errors.ValidationFailed([{"field": "body.x", "message": "bad", "type": "value_error"}]),
            429: errors.RateLimited("Slow down.", retry_after=17),
            502: errors.UpstreamError("The assistant failed."),
            503: errors.ServiceUnavailable("Down for a moment."),
            504: errors.UpstreamTimeout("The assistant timed out."),
        }
        if status in raised:
            raise raised[status]
        abort(status)

    @bp.post("/echo")
    @public
    def echo() -> Any:
        return parse_body(PaymentIn).model_dump()

    @bp.get("/boom")
    @public
    def boom() -> Any:
        raise RuntimeError("internal detail: /srv/secret/path")

    @bp.get("/db")
    @public
    def touch_db() -> Any:
        return {"one": db.session.execute(text("SELECT 1")).scalar_one()}

    @bp.post("/write-then-fail")
    @public
    def write_then_fail() -> Any:
        db.session.execute(text("INSERT INTO rollback_probe (note) VALUES ('half done')"))
        raise errors.Conflict("Refused after writing.")

    @bp.post("/write-then-crash")
    @public
    def write_then_crash() -> Any:
        db.session.execute(text("INSERT INTO rollback_probe (note) VALUES ('half done')"))
        raise KeyError("boom")

    return bp


def with_test_routes(app: Flask) -> Flask:
    app.register_blueprint(_test_routes())
    return app


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return with_test_routes(app).test_client()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "conflict"),
        (410, "gone"),
        (422, "validation_error"),
        (429, "rate_limited"),
        (500, "internal_error"),
        (501, "not_implemented"),
        (502, "upstream_error"),
        (503, "service_unavailable"),
        (504, "upstream_timeout"),
    ],
)
def test_every_status_is_a_problem(client, status: int, code: str) -> None:
    body = assert_problem(client.get(f"/api/_test/raise/{status}"), status, code)
    assert body["instance"] == f"/api/_test/raise/{status}"
    assert body["detail"]


def test_api_error_detail_is_kept(client) -> None:
    body = assert_problem(client.get("/api/_test/raise/404"), 404, "not_found")
    assert body["detail"] == "Student not found."
    assert body["title"] == "Not Found"


def test_401_asks_for_a_bearer_token(client) -> None:
    response = client.get("/api/_test/raise/401")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_429_and_503_say_when_to_retry(client) -> None:
    assert client.get("/api/_test/raise/429").headers["Retry-After"] == "17"
    assert client.get("/api/_test/raise/503").headers["Retry-After"] == "5"


def test_werkzeug_429_and_503_get_retry_after_too(client) -> None:
    # abort() raises werkzeug's own exceptions, as Flask-Limiter and the server do.
    for path in ("/api/_test/raise/429", "/api/_test/raise/503"):
        assert int(client.get(path).headers["Retry-After"]) >= 1


def test_unknown_url_is_404_problem(client) -> None:
    body = assert_problem(client.get("/api/no-such-thing"), 404, "not_found")
    assert body["instance"] == "/api/no-such-thing"


def test_wrong_method_is_405_with_allow(client) -> None:
    response = client.delete("/api/_test/echo")
    body = assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert "DELETE" in body["detail"]


def test_malformed_json_is_400(client) -> None:
    response = client.post("/api/_test/echo", data='{"amount_cents": 5,', content_type="application/json")
    body = assert_problem(response, 400, "bad_request")
    assert "not valid JSON" in body["detail"]


def test_missing_body_is_400(client) -> None:
    body = assert_problem(client.post("/api/_test/echo"), 400, "bad_request")
    assert "required" in body["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_non_json_body_is_415(client, content_type: str) -> None:
    response = client.post("/api/_test/echo", data="amount_cents=5", content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


def test_json_with_charset_is_accepted(client) -> None:
    response = client.post(
        "/api/_test/echo",
        data='{"amount_cents": 5, "method": "cash"}',
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 200
    assert response.get_json() == {"amount_cents": 5, "method": "cash", "note": None}


def test_body_over_the_limit_is_413(make_app: AppFactory) -> None:
    client = with_test_routes(make_app(MAX_CONTENT_LENGTH=1024)).test_client()
    payload = '{"method": "' + "x" * 2000 + '", "amount_cents": 1}'
    body = assert_problem(
        client.post("/api/_test/echo", data=payload, content_type="application/json"),
        413,
        "payload_too_large",
    )
    assert "1024 bytes" in body["detail"]


@pytest.mark.parametrize(("pieces", "status"), [(1, 200), (8, 413)])
def test_chunked_body_is_held_to_the_limit(make_app: AppFactory, pieces: int, status: int) -> None:
    """No Content-Length: the limit is enforced while the body is read (real HTTP, chunked)."""
    app = with_test_routes(make_app(MAX_CONTENT_LENGTH=1024))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        chunks = [b'{"method": "', *([b"x" * 500] * pieces), b'", "amount_cents": 1}']
        connection.request(
            "POST",
            "/api/_test/echo",
            body=iter(chunks),
            encode_chunked=True,
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == status
        if status == 413:
            assert response.getheader("Content-Type") == "application/problem+json"
            assert body["code"] == "payload_too_large"
        else:
            assert body == {"method": "x" * 500, "amount_cents": 1, "note": None}
        connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_validation_errors_name_every_field(client) -> None:
    response = client.post(
        "/api/_test/echo",
        json={"amount_cents": "twelve", "unexpected": "card-4111111111111111"},
    )
    body = assert_problem(response, 422, "validation_error")
    by_field = {e["field"]: e for e in body["errors"]}
    assert set(by_field) == {"body.amount_cents", "body.method", "body.unexpected"}
    assert by_field["body.amount_cents"]["type"] == "int_type"  # strict: a string is not a number
    assert by_field["body.method"]["type"] == "missing"
    assert by_field["body.unexpected"]["type"] == "extra_forbidden"
    assert "4111111111111111" not in response.get_data(as_text=True)


def test_nul_characters_are_refused_not_stored(client) -> None:
    response = client.post(
        "/api/_test/echo",
        data='{"amount_cents": 5, "method": "ca\\u0000sh"}',
        content_type="application/json",
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0] == {
        "field": "body",
        "message": "Text may not contain NUL characters.",
        "type": "nul_character",
    }
    literal = client.post(
        "/api/_test/echo",
        data='{"amount_cents": 5, "method": "back\\\\u0000slash"}',
        content_type="application/json",
    )
    assert literal.status_code == 200  # an escaped backslash followed by "u0000" is ordinary text


@pytest.mark.parametrize("payload", ["[1, 2]", "null", '"text"', "42"])
def test_body_that_is_not_an_object_is_422(client, payload: str) -> None:
    response = client.post("/api/_test/echo", data=payload, content_type="application/json")
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body"


def test_unhandled_exception_hides_internals_in_production(make_app: AppFactory, logs) -> None:
    app = make_app(
        APP_ENV="production",
        SECRET_KEY="k" * 40,
        JWT_SECRET_KEY="j" * 40,
        CORS_ORIGINS="https://app.example.org",
    )  # ENCRYPTION_KEYS comes from the test config
    client = with_test_routes(app).test_client()
    logs()
    response = client.get("/api/_test/boom")
    body = assert_problem(response, 500, "internal_error")
    text_body = response.get_data(as_text=True)
    assert "exception" not in body
    assert "RuntimeError" not in text_body and "/srv/secret/path" not in text_body
    crash = [line for line in logs() if line["event"] == "unhandled_exception"]
    assert len(crash) == 1
    assert crash[0]["request_id"] == body["request_id"]
    assert crash[0]["exception"][0]["exc_type"] == "RuntimeError"  # the stack goes to the log


def test_unhandled_exception_is_explained_in_development(make_app: AppFactory) -> None:
    client = with_test_routes(make_app(APP_ENV="development")).test_client()
    body = assert_problem(client.get("/api/_test/boom"), 500, "internal_error")
    assert body["exception"] == {"type": "RuntimeError", "message": "internal detail: /srv/secret/path"}


def test_unreachable_database_is_503_with_retry_after(make_app: AppFactory) -> None:
    client = with_test_routes(make_app(DATABASE_URL=UNREACHABLE_DATABASE_URL)).test_client()
    response = client.get("/api/_test/db")
    body = assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert "database" in body["detail"].lower()


@pytest.fixture
def rollback_table(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        with owner_access("test: a table of its own"):
            db.session.execute(text("CREATE TABLE rollback_probe (note VARCHAR(40))"))
            db.session.commit()
        yield
        db.session.rollback()
        with owner_access("test: a table of its own"):
            db.session.execute(text("DROP TABLE rollback_probe"))
            db.session.commit()


def _rows(app: Flask) -> int:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM rollback_probe")).scalar_one()


@pytest.mark.usefixtures("rollback_table")
@pytest.mark.parametrize(
    ("path", "status"), [("/api/_test/write-then-fail", 409), ("/api/_test/write-then-crash", 500)]
)
def test_session_is_rolled_back_on_error(app: Flask, client, path: str, status: int) -> None:
    response = client.post(path)
    assert response.status_code == status
    assert _rows(app) == 0
    # The connection went back clean: the next request on it works.
    assert client.get("/api/_test/db").get_json() == {"one": 1}
