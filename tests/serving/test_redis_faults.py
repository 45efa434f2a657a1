"""No Redis failure mode produces a 5xx: refused, reset, timed out (slow), frozen behind the network,
and frozen in place (SIGSTOP). A real redis-server, behind a fault proxy on 127.0.0.1; every load
here is bounded in count."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import PASSWORD, AppFactory, RedisServer, auth_headers, make_school, make_user
from tests.faults import FaultProxy, Mode

THREADS, ROUNDS = 4, 8  # 4 x 8 x 3 = 96 requests per fault


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(redis_server.port, delay=1.0)
    yield proxy
    proxy.close()


def _app(make_app: AppFactory, port: int) -> Flask:
    return make_app(
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        REDIS_TIMEOUT=0.2,
        REDIS_COOLDOWN_MAX=2,
        RATE_LIMIT_DEFAULT="1000 per minute",
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_FAILURE_LIMIT="1000 per minute",
        LOGIN_ACCOUNT_FAILURE_LIMIT="1000 per minute",
        TRUSTED_PROXY_HOPS=1,
    )


def _load(app: Flask, headers: dict[str, str], email: str) -> Counter[int]:
    """Signed-in reads, failed sign-ins (counted after the response) and health reports, at once."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def run(n: int) -> None:
        client = app.test_client()
        for _ in range(ROUNDS):
            answers = [
                client.get("/api/auth/me", headers=headers).status_code,
                client.post(
                    "/api/auth/login",
                    json={"email": email, "password": "wrong-guess-123"},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                ).status_code,
                client.get("/api/health").status_code,
            ]
            with lock:
                statuses.update(answers)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.RESET, Mode.SLOW, Mode.FREEZE])
def test_no_redis_failure_is_a_server_error(make_app: AppFactory, proxy: FaultProxy, mode: Mode) -> None:
    app = _app(make_app, proxy.port)
    account = make_user(app, make_school(app), "admin")
    headers = auth_headers(app.test_client(), account)
    assert set(_load(app, headers, account.email)) <= {200, 401}  # healthy first
    with proxy.fault(mode):
        during = _load(app, headers, account.email)
    assert sum(during.values()) == THREADS * ROUNDS * 3
    assert [status for status in during if status >= 500] == [], during
    assert set(during) <= {200, 401}
    after = app.test_client().post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
    assert after.status_code == 200


def test_a_redis_stopped_in_place_is_not_a_server_error(
    make_app: AppFactory, redis_server: RedisServer
) -> None:
    """SIGSTOP: the process is alive and its port open, but it never answers."""
    app = _app(make_app, redis_server.port)
    account = make_user(app, make_school(app), "admin")
    headers = auth_headers(app.test_client(), account)
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        during = _load(app, headers, account.email)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(redis_server.process.pid, signal.SIGCONT)
    assert [status for status in during if status >= 500] == [], during
    assert app.test_client().get("/api/auth/me", headers=headers).status_code == 200
