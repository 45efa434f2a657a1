"""Graceful behaviour of a real Gunicorn running the app: shutdown, drain, recycling, crashes.

Every load here is bounded in request count and in time, and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import pytest

from tests.serving.conftest import Server

IN_FLIGHT = 16
RECYCLE_REQUESTS = 300


def _run_all(server: Server, paths: list[str], concurrency: int) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(server.get, path) for path in paths]
        _done, pending = wait(futures, timeout=120)
    assert not pending, "requests still pending after 120 s"
    results: list[tuple[int, Any]] = []
    for future in futures:
        try:
            results.append(future.result())
        except OSError as error:  # a refused or reset connection is a failed request
            results.append((0, repr(error)))
    return results


def test_start_summary_and_logs_are_json(gunicorn) -> None:
    server = gunicorn(REDIS_URL="")
    status, _ = server.get("/api/health")
    assert status == 200
    time.sleep(0.3)
    lines = server.logs()  # every line parses as JSON, Gunicorn's own included
    summary = [line for line in lines if line["event"] == "gunicorn_started"]
    assert len(summary) == 1
    assert summary[0]["workers"] == 2 and summary[0]["threads"] == 4
    assert summary[0]["bind"] == f"0.0.0.0:{server.port}"
    assert summary[0]["worker_class"].endswith("DrainingThreadWorker")
    assert any(line.get("logger") == "gunicorn.error" for line in lines)
    # Without Redis, limits are per process: said once per server start, not once per worker or app.
    assert [line["event"] for line in lines].count("rate_limits_per_process") == 1
    assert "shutdown_drain_disabled" not in [line["event"] for line in lines]
    access = [line for line in lines if line.get("logger") == "homeroom.access"]
    assert [line["path"] for line in access] == ["/api/health"]  # once, from the app; probes left out


def test_sigterm_under_load_finishes_every_in_flight_request(gunicorn) -> None:
    server = gunicorn(GUNICORN_DRAIN_SECONDS="0")
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        futures = [pool.submit(server.get, "/api/_test/sleep?seconds=2") for _ in range(IN_FLIGHT)]
        time.sleep(0.7)  # every request accepted and sleeping
        server.process.send_signal(signal.SIGTERM)
        results = [future.result(timeout=30) for future in futures]
    assert [status for status, _ in results] == [200] * IN_FLIGHT
    # Gunicorn's graceful timeout is 10 s here; the margin is for a loaded machine, not a speed claim.
    assert server.wait_exit(timeout=10 + 30) == 0


def test_ready_is_503_while_draining_and_health_stays_200(gunicorn) -> None:
    server = gunicorn(GUNICORN_DRAIN_SECONDS="3")
    assert server.get("/ready")[0] == 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(server.get, "/api/_test/sleep?seconds=2")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body = server.get("/ready")
        assert status == 503
        assert body["code"] == "service_unavailable" and body["failing"] == ["shutdown"]
        assert server.get("/health") == (200, {"status": "ok"})
        assert slow.result(timeout=30)[0] == 200
    assert server.wait_exit(timeout=20) == 0


def _knock(port: int) -> str:
    """One request on a new connection: "ok", "refused" (nobody listening) or "reset"/"cut" (the
    connection was accepted, then dropped without an answer)."""
    try:
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"  # the handshake was in flight as the listener closed: counted, not a crash
    try:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = connection.recv(64)
        return "ok" if answer.startswith(b"HTTP/1.1 200") else "cut"
    except ConnectionResetError:
        return "reset"
    except OSError:
        return "cut"
    finally:
        connection.close()


def test_a_stopping_server_refuses_late_clients_instead_of_resetting_them(gunicorn) -> None:
    """Knockers open new connections through the drain and the stop, while a slow request keeps a
    worker busy. Once the door closes they are refused at once; before the fix each was accepted by
    the kernel and reset when the slow request let the socket close (one per knocker). The only
    reset left possible is a handshake in flight at the instant the door closes (microseconds)."""
    server = gunicorn(GUNICORN_DRAIN_SECONDS="1")
    knockers, refusals_each = 3, 10

    def knock_until_refused() -> dict[str, int]:
        outcomes: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and outcomes.get("refused", 0) < refusals_each:
            outcome = _knock(server.port)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            time.sleep(0.002)
        return outcomes

    with ThreadPoolExecutor(max_workers=knockers + 1) as pool:
        slow = pool.submit(server.get, "/api/_test/sleep?seconds=4")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        results = [pool.submit(knock_until_refused) for _ in range(knockers)]
        outcomes = [future.result(timeout=90) for future in results]
        assert slow.result(timeout=30)[0] == 200  # in flight when the door closed: answered
    totals = {kind: sum(o.get(kind, 0) for o in outcomes) for kind in ("ok", "refused", "reset", "cut")}
    assert totals["ok"] > 0  # served while draining
    assert totals["refused"] == knockers * refusals_each  # then refused by the kernel
    assert totals["reset"] + totals["cut"] <= 1, totals
    assert server.wait_exit(timeout=30) == 0
    assert any(line["event"] == "listener_closed" for line in server.logs())


def test_a_reload_keeps_the_listener_open(gunicorn) -> None:
    server = gunicorn(GUNICORN_DRAIN_SECONDS="0")
    before = server.worker_pids()
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(server.worker_pids() - before) < 2:
        time.sleep(0.2)
    time.sleep(1)  # the old workers stop after the new ones boot
    results = _run_all(server, ["/api/_test/pid"] * 40, concurrency=4)
    assert [status for status, _ in results] == [200] * 40
    assert not {body["pid"] for _, body in results} & before
    assert not any(line["event"] == "listener_closed" for line in server.logs())


def test_workers_recycle_under_max_requests_without_failures(gunicorn) -> None:
    server = gunicorn(GUNICORN_MAX_REQUESTS="20", GUNICORN_MAX_REQUESTS_JITTER="0")
    results = _run_all(server, ["/api/_test/pid"] * RECYCLE_REQUESTS, concurrency=4)
    failures = [result for result in results if result[0] != 200]
    assert failures == []
    served_by = {body["pid"] for _, body in results}
    assert len(served_by) >= RECYCLE_REQUESTS // 20 // 2  # many generations of workers
    assert len(server.worker_pids()) >= 10


def _pid_over(connection: http.client.HTTPConnection) -> tuple[int, str | None]:
    """GET /api/_test/pid on a kept-alive connection: the worker's pid and its Connection header."""
    connection.request("GET", "/api/_test/pid")
    response = connection.getresponse()
    return json.loads(response.read())["pid"], response.getheader("Connection")


def _push_until_retired(
    worker: int, pusher: http.client.HTTPConnection, idle: http.client.HTTPConnection
) -> tuple[http.client.HTTPConnection, http.client.HTTPConnection]:
    """Requests on `pusher` until its worker answers `Connection: close` (it retires). A worker
    waits its turn while another one retires, so this may take a few seconds; meanwhile `idle` is
    used every 2 s to stay within its keep-alive. If `idle` gets the retiring answer, the two swap.
    Returns (the connection that got it, the idle one). Bounded: 30 s."""
    deadline = time.monotonic() + 30
    refreshed = time.monotonic()
    while time.monotonic() < deadline:
        pid, connection_header = _pid_over(pusher)
        assert pid == worker
        if connection_header == "close":
            return pusher, idle
        if time.monotonic() - refreshed > 2:
            pid, connection_header = _pid_over(idle)
            assert pid == worker
            refreshed = time.monotonic()
            if connection_header == "close":
                return idle, pusher
        time.sleep(0.05)
    pytest.fail("the worker never retired")


def test_a_recycled_worker_still_answers_its_idle_kept_alive_connections(gunicorn) -> None:
    """A client reusing its kept-alive connection at its usual pace (within GUNICORN_KEEPALIVE) after
    its worker reached GUNICORN_MAX_REQUESTS gets an answer with `Connection: close`, not a closed
    socket: Gunicorn closed such connections 2 s after the worker stopped (the load suite's reset)."""
    server = gunicorn(GUNICORN_MAX_REQUESTS="8", GUNICORN_MAX_REQUESTS_JITTER="0", GUNICORN_KEEPALIVE="5")
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=15) for _ in range(10)]
    try:
        by_worker: dict[int, list[http.client.HTTPConnection]] = {}
        for connection in connections:
            by_worker.setdefault(_pid_over(connection)[0], []).append(connection)
        worker, (pusher, idle, *_) = next((p, c) for p, c in by_worker.items() if len(c) >= 2)
        pusher, idle = _push_until_retired(worker, pusher, idle)
        time.sleep(3)  # past Gunicorn's 2 s for a stopping worker, within the 5 s keep-alive
        assert _pid_over(idle) == (worker, "close")
    finally:
        for connection in connections:
            connection.close()


def test_killed_worker_is_replaced(gunicorn) -> None:
    server = gunicorn()
    victim = server.get("/api/_test/pid")[1]["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(server.worker_pids() - {victim}) < 2:
        time.sleep(0.2)
    live = server.worker_pids() - {victim}
    assert len(live) >= 2, "no replacement worker booted"
    results = _run_all(server, ["/api/_test/pid"] * 40, concurrency=4)
    assert [status for status, _ in results] == [200] * 40
    assert victim not in {body["pid"] for _, body in results}
    assert server.process.poll() is None


def test_worker_killed_for_timeout_logs_its_stack(gunicorn) -> None:
    # Sync workers are the ones Gunicorn times out on a stuck request (with threads > 1 Gunicorn
    # would switch to gthread); the hook is the same for every class.
    server = gunicorn(
        GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="1", GUNICORN_TIMEOUT="2", GUNICORN_WORKERS="1"
    )
    # The worker is killed mid-request, as intended: no (JSON) answer comes back.
    with contextlib.suppress(OSError, ValueError):
        server.get("/api/_test/sleep?seconds=6", timeout=10)
    deadline = time.monotonic() + 10
    aborted: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not aborted:
        aborted = [line for line in server.logs() if line["event"] == "worker_timeout"]
        time.sleep(0.2)
    assert aborted, "worker_abort did not log"
    stacks = "".join(aborted[0]["stacks"].values())
    assert "time.sleep(seconds)" in stacks or "in sleep" in stacks
    # A worker class without the drain is said once at start, with the way back.
    [disabled] = [line for line in server.logs() if line["event"] == "shutdown_drain_disabled"]
    assert disabled["worker_class"] == "sync" and "GUNICORN_WORKER_CLASS" in disabled["fix"]


def _raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_malformed_chunked_body_is_a_400_problem_with_a_short_log_line(gunicorn) -> None:
    server = gunicorn()
    request = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    answer = _raw_request(server.port, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "bad_request"
    time.sleep(0.3)
    lines = server.logs()
    assert not [line for line in lines if "exception" in line or line.get("level") == "error"], lines


def test_gunicorns_own_refusals_are_problems_at_the_documented_limits(gunicorn) -> None:
    server = gunicorn(GUNICORN_LIMIT_REQUEST_LINE="200", GUNICORN_LIMIT_REQUEST_FIELDS="10")
    many_headers = b"".join(b"X-%d: 1\r\n" % n for n in range(12))
    cases = [
        (b"GET /health?" + b"x" * 300 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "uri_too_long"),
        (
            b"GET /health HTTP/1.1\r\nHost: a\r\n" + many_headers + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (b"NOT A REQUEST\r\n\r\n", 400, "bad_request"),
    ]
    for request, status, code in cases:
        head, _, body = _raw_request(server.port, request).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d" % status), head
        assert b"Content-Type: application/problem+json" in head
        problem = json.loads(body)
        assert (problem["status"], problem["code"]) == (status, code)
        assert b"xxxx" not in body  # the request line is not echoed
    assert server.get("/health")[0] == 200
