"""Redis dies and comes back under a running app: no 5xx, limits still enforced, then shared again.

Every Redis here is a redis-server the test starts on a free 127.0.0.1 port; loads are bounded.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory, RedisServer
from tests.serving.conftest import Server

LIMIT = 5


def _limit_keys(server: RedisServer) -> dict[str, int]:
    client = server.client()
    return {key: client.llen(key) for key in client.keys("LIMITS:LIMITER/homeroom/*")}


_health_reads = itertools.count(1)


def _health(client: FlaskClient) -> dict[str, Any]:
    # A fresh client IP per read, so that polling health never runs into a limit itself.
    ip = f"198.51.100.{next(_health_reads) % 250 + 1}"
    response = client.get("/api/health", headers={"X-Forwarded-For": ip})
    assert response.status_code == 200
    return response.get_json()


def _statuses(client: FlaskClient, ip: str, count: int) -> list[int]:
    return [client.get("/api/health", headers={"X-Forwarded-For": ip}).status_code for _ in range(count)]


def _app(make_app: AppFactory, redis_server: RedisServer) -> Flask:
    return make_app(
        REDIS_URL=redis_server.url,
        RATE_LIMIT_DEFAULT=f"{LIMIT} per minute",
        TRUSTED_PROXY_HOPS=1,
        REDIS_TIMEOUT=0.3,
        REDIS_COOLDOWN_MAX=2,
    )


def test_redis_outage_degrades_without_errors_and_recovers(
    make_app: AppFactory, redis_server: RedisServer, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    client = _app(make_app, redis_server).test_client()
    redis_health = _health(client)["components"]["redis"]
    assert (redis_health["status"], redis_health["critical"]) == ("ok", False)
    assert _statuses(client, "192.0.2.1", 2) == [200, 200]
    assert any("ip:192.0.2.1" in key for key in _limit_keys(redis_server))  # counted in Redis

    logs()
    redis_server.stop()
    during = _statuses(client, "192.0.2.2", LIMIT + 3)
    assert during == [200] * LIMIT + [429] * 3  # no 5xx; the limit is still enforced, in memory
    assert client.get("/ready").status_code == 200  # Redis is optional for readiness
    health = _health(client)
    assert health["status"] == "degraded"
    assert health["components"]["redis"]["status"] == "degraded"
    lines = logs()
    assert [line["event"] for line in lines if line["event"] == "redis_unavailable"] == ["redis_unavailable"]
    limiter_warnings = [line for line in lines if "falling back to in-memory" in line["event"]]
    assert len(limiter_warnings) == 1

    redis_server.start()
    deadline = time.monotonic() + 15  # the cache's cool-down is at most 2 s here
    while time.monotonic() < deadline and _health(client)["components"]["redis"]["status"] != "ok":
        time.sleep(0.2)
    assert _health(client)["status"] == "ok"
    assert [line["event"] for line in logs() if line["event"] == "redis_recovered"] == ["redis_recovered"]

    # Flask-Limiter re-checks its storage with its own back-off; once back, counts land in Redis.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not any("ip:192.0.2.3" in k for k in _limit_keys(redis_server)):
        _statuses(client, "192.0.2.3", 1)
        time.sleep(0.5)
    assert any("ip:192.0.2.3" in key for key in _limit_keys(redis_server)), "limits did not return to Redis"


def _spread(a: Server, b: Server, per_server: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for _ in range(per_server):
        for server in (a, b):
            statuses[server.get("/api/_test/pid")[0]] += 1
    return statuses


def test_two_instances_share_one_limit_through_redis(gunicorn, redis_server: RedisServer) -> None:
    env = {"REDIS_URL": redis_server.url, "RATE_LIMIT_DEFAULT": "10 per minute"}
    a, b = gunicorn(**env), gunicorn(**env)
    assert _spread(a, b, per_server=8) == Counter({200: 10, 429: 6})


def test_instances_share_limits_again_after_redis_returns(gunicorn, redis_server: RedisServer) -> None:
    env = {
        "REDIS_URL": redis_server.url,
        "RATE_LIMIT_DEFAULT": "1000 per minute",
        "GUNICORN_WORKERS": "1",
        "REDIS_TIMEOUT": "0.3",
        "REDIS_COOLDOWN_MAX": "2",
    }
    a, b = gunicorn(**env), gunicorn(**env)
    assert _spread(a, b, per_server=3) == Counter({200: 6})

    redis_server.stop()
    assert _spread(a, b, per_server=5) == Counter({200: 10})  # served, from each process's memory
    for server in (a, b):
        assert server.get("/api/health")[1]["components"]["redis"]["status"] == "degraded"

    redis_server.start()

    def counted_in_redis(server: Server) -> bool:
        before = sum(_limit_keys(redis_server).values())
        server.get("/api/_test/pid")
        return sum(_limit_keys(redis_server).values()) == before + 1

    deadline = time.monotonic() + 45
    pending = {a.port: a, b.port: b}
    while pending and time.monotonic() < deadline:
        for port, server in list(pending.items()):
            if counted_in_redis(server):
                del pending[port]
        time.sleep(0.5)
    assert not pending, "an instance did not return to Redis for its limits"

    shared = sum(_limit_keys(redis_server).values())
    _spread(a, b, per_server=4)
    assert sum(_limit_keys(redis_server).values()) == shared + 8  # both count in the one place
    for server in (a, b):
        assert server.get("/api/health")[1]["components"]["redis"]["status"] == "ok"
