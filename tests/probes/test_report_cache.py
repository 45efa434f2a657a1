"""/api/health is a report: each worker runs its checks at most every HEALTH_REPORT_MAX_AGE_SECONDS
(callers meanwhile share the latest report, and callers during a run wait for it); /ready, the
gate, checks on every call."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from flask import Flask

from backend.probes import register_check
from tests.conftest import AppFactory


class Counted:
    """A check that counts its runs (and takes `seconds` to answer)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.runs = 0
        self.seconds = seconds
        self.lock = threading.Lock()

    def __call__(self, _app: Flask) -> dict[str, Any]:
        with self.lock:
            self.runs += 1
        time.sleep(self.seconds)
        return {"runs": self.runs}


def _app(make_app: AppFactory, max_age: float, check: Counted, *, critical: bool = False) -> Flask:
    # a loaded CI machine must not time the counted check out (it would count a run late)
    app = make_app(HEALTH_REPORT_MAX_AGE_SECONDS=max_age, HEALTH_CHECK_TIMEOUT=30)
    register_check(app, "counted", check, critical=critical)
    return app


def test_calls_within_the_max_age_share_one_run_of_the_checks(make_app: AppFactory) -> None:
    check = Counted()
    client = _app(make_app, 30, check).test_client()
    bodies = [client.get("/api/health").get_json() for _ in range(5)]
    assert check.runs == 1
    assert {body["checked_at"] for body in bodies} == {bodies[0]["checked_at"]}
    assert all(body["components"]["counted"]["runs"] == 1 for body in bodies)
    assert all(body["status"] == "ok" for body in bodies)


def test_with_max_age_zero_every_call_checks(make_app: AppFactory) -> None:
    check = Counted()
    client = _app(make_app, 0, check).test_client()
    for _ in range(3):
        assert client.get("/api/health").status_code == 200
    assert check.runs == 3


def test_an_old_report_is_checked_again(make_app: AppFactory) -> None:
    check = Counted()
    client = _app(make_app, 0.2, check).test_client()
    first = client.get("/api/health").get_json()
    time.sleep(0.3)
    second = client.get("/api/health").get_json()
    assert check.runs == 2
    assert datetime.fromisoformat(second["checked_at"]) > datetime.fromisoformat(first["checked_at"])
    assert second["uptime_seconds"] >= first["uptime_seconds"]


def test_callers_during_a_run_wait_for_it_instead_of_starting_their_own(make_app: AppFactory) -> None:
    check = Counted(seconds=0.5)
    app = _app(make_app, 30, check)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = app.test_client().get("/api/health").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 8
    assert check.runs == 1


def test_readiness_checks_on_every_call(make_app: AppFactory) -> None:
    check = Counted()
    client = _app(make_app, 30, check, critical=True).test_client()
    for _ in range(3):
        assert client.get("/ready").status_code == 200
    assert check.runs == 3
