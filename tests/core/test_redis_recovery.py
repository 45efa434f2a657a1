"""Redis comes back: the limits and /api/health of every app (each one a worker) are on it again
within about REDIS_COOLDOWN_MAX (1 s by default), and /api/health stays `ok` from then on.

A real redis-server on a free 127.0.0.1 port, killed and started again. Every wait is a bounded
poll; the measured recovery time is logged (`redis_recovery_measured`), never asserted tightly.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.core.ratelimit import LIMITER_EXTENSION, Limiter
from tests.conftest import AppFactory, RedisServer

log = logging.getLogger("tests.redis_recovery")
POLL_SECONDS = 10.0  # the bound on waiting; the default pace is 1 s
_addresses = itertools.count(1)


def _fresh_ip() -> str:
    """A client address never used before in this run: its first request creates its counter."""
    n = next(_addresses)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


def _health(client: FlaskClient, ip: str) -> dict[str, Any]:
    response = client.get("/api/health", headers={"X-Forwarded-For": ip})
    assert response.status_code == 200
    component: dict[str, Any] = response.get_json()["components"]["redis"]
    return component


def _counted_in_redis(server: RedisServer, ip: str) -> bool:
    return bool(server.client().keys(f"LIMITS:LIMITER/homeroom/*ip:{ip}*"))


def _apps(make_app: AppFactory, server: RedisServer) -> list[Flask]:
    config = {
        "REDIS_URL": server.url,
        "REDIS_TIMEOUT": 0.3,
        "RATE_LIMIT_DEFAULT": "1000 per minute",
        "TRUSTED_PROXY_HOPS": 1,
    }
    return [make_app(**config), make_app(**config)]  # two workers' worth of cache, limiter and breaker


def _back_on_redis(client: FlaskClient, server: RedisServer) -> bool:
    ip = _fresh_ip()
    return _health(client, ip)["status"] == "ok" and _counted_in_redis(server, ip)


def _count_rechecks(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The answers the limiter's re-check pace gives Flask-Limiter (which asks on each request
    while its storage is down)."""
    limiter = app.extensions[LIMITER_EXTENSION]
    answers: list[bool] = []
    pace = limiter._Limiter__should_check_backend

    def recording() -> bool:
        answers.append(pace())
        return answers[-1]

    monkeypatch.setattr(limiter, "_Limiter__should_check_backend", recording)
    return answers


def test_the_limiter_pings_a_failed_storage_again_once_per_cooldown(make_app: AppFactory) -> None:
    limiter: Limiter = make_app(REDIS_COOLDOWN_MAX=0.5).extensions[LIMITER_EXTENSION]
    now = [100.0]
    limiter.clock = lambda: now[0]
    due = limiter._Limiter__should_check_backend
    assert due() is True  # the first request after a failure pings
    assert due() is False  # ... and the others meanwhile do not
    now[0] += 0.49
    assert due() is False
    now[0] += 0.01
    assert due() is True  # every REDIS_COOLDOWN_MAX, not Flask-Limiter's 1, 2, 4, ... 32 s
    now[0] += 60
    assert due() is True and due() is False


def test_limits_and_health_return_to_redis_within_the_cooldown(
    make_app: AppFactory, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = _apps(make_app, redis_server)
    clients = [app.test_client() for app in apps]
    for client in clients:
        ip = _fresh_ip()
        component = _health(client, ip)
        component.pop("latency_ms")
        assert component == {"status": "ok", "critical": False, "cache": "redis", "rate_limits": "redis"}
        assert _counted_in_redis(redis_server, ip)

    rechecks = [_count_rechecks(app, monkeypatch) for app in apps]
    redis_server.stop()
    # Traffic through the outage, long enough for Flask-Limiter's own back-off to have grown
    # (it pings again after 1, 2, 4, 8, ... s): this is what kept a worker off Redis for 16 s.
    outage_ends = time.monotonic() + 5
    while time.monotonic() < outage_ends:
        for client in clients:
            assert _health(client, _fresh_ip())["status"] == "degraded"
        time.sleep(0.1)
    for app, client in zip(apps, clients, strict=True):
        component = _health(client, _fresh_ip())
        assert (component["cache"], component["rate_limits"]) == ("in_process", "in_process")
        assert app.extensions[LIMITER_EXTENSION].on_fallback
    assert all(rechecks), "Flask-Limiter no longer asks Limiter when to ping its storage again"

    returned = time.monotonic()  # counted from before the start: the figure errs long
    redis_server.start()
    recovered: dict[int, float] = {}
    while len(recovered) < len(clients) and time.monotonic() < returned + POLL_SECONDS:
        for number, client in enumerate(clients):
            if number not in recovered and _back_on_redis(client, redis_server):
                recovered[number] = round(time.monotonic() - returned, 2)
        time.sleep(0.05)
    log.warning("redis_recovery_measured seconds=%s", sorted(recovered.values()))
    assert len(recovered) == len(clients), f"back on Redis: {recovered} of {len(clients)} apps"

    # Back for good: no app says `degraded` again, and every hit is counted in Redis.
    for _ in range(10):
        for client in clients:
            assert _back_on_redis(client, redis_server)
