"""GET/HEAD /health answered before Flask (core/http.py: Liveness): no routing and no hooks, but
the same answer the full pipeline gives, request id and trace included."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.conftest import AppFactory

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _counting_hooks(app: Flask) -> list[str]:
    seen: list[str] = []
    app.before_request(lambda: seen.append("before") and None)
    return seen


def test_health_never_enters_the_flask_pipeline(make_app: AppFactory) -> None:
    app = make_app()
    seen = _counting_hooks(app)
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert client.head("/health").status_code == 200
    assert client.get("/health?verbose=1").status_code == 200
    assert seen == []
    assert client.get("/ready").status_code == 200  # readiness runs its checks in the app
    assert seen == ["before"]


def test_with_probes_in_the_access_log_health_takes_the_pipeline(make_app: AppFactory) -> None:
    app = make_app(ACCESS_LOG_PROBES=True)
    seen = _counting_hooks(app)
    assert app.test_client().get("/health").status_code == 200
    assert seen == ["before"]


@pytest.mark.parametrize("force_https", [False, True])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_fast_answer_is_the_one_the_pipeline_gives(
    make_app: AppFactory, force_https: bool, method: str
) -> None:
    fast = make_app(FORCE_HTTPS=force_https).test_client()
    full = make_app(FORCE_HTTPS=force_https, ACCESS_LOG_PROBES=True).test_client()
    headers = {"X-Request-ID": "probe-1", "traceparent": TRACE}
    answers = [client.open("/health", method=method, headers=headers) for client in (fast, full)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].data == answers[1].data == (b"" if method == "HEAD" else b'{"status":"ok"}')
    assert sorted(answers[0].headers.items()) == sorted(answers[1].headers.items())
    assert answers[0].headers["X-Request-ID"] == "probe-1"
    assert answers[0].headers["traceparent"] == TRACE
    assert ("Strict-Transport-Security" in answers[0].headers) is force_https


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 129, "semi;colon"])
def test_a_missing_or_invalid_request_id_is_replaced(client, incoming: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": incoming} if incoming else {})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert "traceparent" not in response.headers


def test_an_invalid_traceparent_is_not_echoed(client) -> None:
    response = client.get("/health", headers={"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"})
    assert "traceparent" not in response.headers


def test_other_methods_still_get_the_apps_answer(client) -> None:
    response = client.post("/health", json={})
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert response.headers["Allow"]
