"""Rate limits: who is counted, the 429 problem and headers, probes exempt, storage choices."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Blueprint, Flask

from backend.config import SETTINGS_EXTENSION
from backend.core.context import request_context
from backend.core.errors import ServiceUnavailable
from backend.core.markers import public, rate_limit
from backend.core.ratelimit import LIMITER_EXTENSION, apply_route_limits, per_process_warning, rate_limit_key
from backend.tenancy import OperatorContext
from tests.conftest import AppFactory


def _limited_app(make_app: AppFactory, **config: Any) -> Flask:
    app = make_app(RATE_LIMIT_DEFAULT="3 per minute", **config)
    bp = Blueprint("limit_probe", __name__, url_prefix="/api/_test")

    @bp.get("/ok")
    @public
    def ok() -> Any:
        return {"ok": True}

    @bp.get("/strict")
    @public
    @rate_limit("1 per minute")
    def strict() -> Any:
        return {"ok": True}

    @bp.get("/unavailable")
    @public
    def unavailable() -> Any:
        raise ServiceUnavailable("Try soon.")

    app.register_blueprint(bp)
    apply_route_limits(app)
    return app


def test_limit_is_enforced_with_a_429_problem(make_app: AppFactory) -> None:
    client = _limited_app(make_app).test_client()
    remaining = []
    for _ in range(3):
        response = client.get("/api/_test/ok")
        assert response.status_code == 200
        assert "Retry-After" not in response.headers
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    response = client.get("/api/_test/ok")
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "rate_limited"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_probes_are_never_limited(make_app: AppFactory) -> None:
    client = _limited_app(make_app).test_client()
    for _ in range(10):
        for path in ("/health", "/ready"):
            response = client.get(path)
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers


def test_clients_are_counted_separately_by_ip(make_app: AppFactory) -> None:
    client = _limited_app(make_app, TRUSTED_PROXY_HOPS=1).test_client()
    first = {"X-Forwarded-For": "203.0.113.1"}
    for _ in range(3):
        assert client.get("/api/_test/ok", headers=first).status_code == 200
    assert client.get("/api/_test/ok", headers=first).status_code == 429
    assert client.get("/api/_test/ok", headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200


def test_key_is_the_user_when_authenticated(app: Flask) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "198.51.100.9"}):
        app.preprocess_request()  # the pipeline builds the request context
        assert rate_limit_key() == "ip:198.51.100.9"
        user_id = uuid.UUID(int=0x6F1C2F6E)
        request_context().caller = OperatorContext(user_id, uuid.uuid4())  # what authentication sets
        assert rate_limit_key() == f"user:{user_id}"


def test_a_503_keeps_its_own_retry_after(make_app: AppFactory) -> None:
    response = _limited_app(make_app).test_client().get("/api/_test/unavailable")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"  # not stretched to the rate-limit window
    assert response.headers["X-RateLimit-Limit"] == "3"


@pytest.mark.parametrize(
    ("strategy", "limiter_class"),
    [
        ("fixed-window", "FixedWindowRateLimiter"),
        ("moving-window", "MovingWindowRateLimiter"),
        ("sliding-window-counter", "SlidingWindowCounterRateLimiter"),
    ],
)
def test_strategy_is_configurable(make_app: AppFactory, strategy: str, limiter_class: str) -> None:
    client = _limited_app(make_app, RATE_LIMIT_STRATEGY=strategy).test_client()
    statuses = [client.get("/api/_test/ok").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert type(client.application.extensions[LIMITER_EXTENSION].limiter).__name__ == limiter_class


def test_per_process_limits_are_said_when_serving_not_by_every_app_or_command(
    make_app: AppFactory, logs
) -> None:
    """Without Redis, limits are counted per process. Gunicorn's start says so once (tests/serving);
    building an app or running a command (three of them run before every start) says nothing."""
    logs()
    app = _limited_app(make_app, REDIS_URL="")
    assert app.test_cli_runner().invoke(args=["config", "check"]).exit_code == 0
    assert [line for line in logs() if line["event"] == "rate_limits_per_process"] == []
    per_process_warning(app.extensions[SETTINGS_EXTENSION])
    warnings = [line for line in logs() if line["event"] == "rate_limits_per_process"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    per_process_warning(make_app(REDIS_URL="redis://127.0.0.1:1/0").extensions[SETTINGS_EXTENSION])
    assert [line for line in logs() if line["event"] == "rate_limits_per_process"] == []


def test_views_can_declare_their_own_limit(make_app: AppFactory) -> None:
    client = _limited_app(make_app).test_client()
    assert client.get("/api/_test/strict").status_code == 200
    response = client.get("/api/_test/strict")
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Limit"] == "1"
    assert client.get("/api/_test/ok").status_code == 200  # the default limit is separate


def test_apps_in_one_process_keep_their_own_limits(make_app: AppFactory) -> None:
    strict = make_app(RATE_LIMIT_DEFAULT="1 per minute").test_client()
    relaxed = make_app(RATE_LIMIT_DEFAULT="100 per minute").test_client()
    assert [strict.get("/api/health").status_code for _ in range(2)] == [200, 429]
    assert [relaxed.get("/api/health").status_code for _ in range(5)] == [200] * 5
