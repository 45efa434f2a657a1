"""Admission control's decisions, without Gunicorn (core/admission.py): the wait estimate, when a
request is refused on arrival or at pick-up, how a departed client is seen, and what is answered,
logged and counted. The worker that uses them is tested for real in tests/serving/test_overload.py."""

from __future__ import annotations

import json
import random
import select
import socket
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from backend.core import admission
from backend.core.admission import (
    GONE_CHECK_AFTER_SECONDS,
    SERVICE_FLOOR_SECONDS,
    SERVICE_PRIOR_SECONDS,
    Admission,
    Reason,
    Target,
    client_gone,
    overloaded_response,
    queue_budget,
    report_shed,
    request_target,
    retry_after,
)
from backend.core.gunicorn_worker import write_problem
from backend.core.http import SECURITY_HEADERS


def filled(threads: int, budget: float, service: float, running: int = 0, queued: int = 0) -> Admission:
    """An Admission whose recent requests each took `service` seconds, with `running` requests
    picked up by threads and `queued` more admitted behind them."""
    controller = Admission(threads, budget=0)  # no refusals while it is filled
    for _ in range(10):
        controller.picked_up()
        controller.finished(service)
    for _ in range(running + queued):
        assert controller.admit()
    for _ in range(running):
        controller.picked_up()
    controller.budget = budget
    return controller


# --- the estimate ---------------------------------------------------------------------------------


def test_the_mean_starts_from_a_prior_and_follows_recent_requests() -> None:
    controller = Admission(threads=4, budget=10, window=3)
    assert controller.mean_service() == SERVICE_PRIOR_SECONDS
    for seconds in (9.0, 1.0, 2.0, 3.0):  # the 9 s one has left the window of three
        controller.picked_up()
        controller.finished(seconds)
    assert controller.mean_service() == pytest.approx(2.0)


def test_the_mean_never_falls_below_the_floor() -> None:
    controller = Admission(threads=4, budget=10)
    controller.picked_up()
    controller.finished(0.0)
    assert controller.mean_service() == SERVICE_FLOOR_SECONDS


def test_a_refused_request_leaves_the_mean_alone_and_frees_its_thread() -> None:
    controller = filled(threads=2, budget=10, service=0.5, running=1)
    controller.finished(None)
    assert controller.running == 0 and controller.mean_service() == pytest.approx(0.5)


def test_the_estimate_is_the_waiting_ones_over_the_threads_after_the_running_ones() -> None:
    controller = filled(threads=4, budget=100, service=0.5, running=4, queued=8)
    assert (controller.running, controller.queued) == (4, 8)
    assert controller.estimated_wait() == pytest.approx(8 * 0.5 / 4 + 0.5)
    controller.finished(0.5)  # a thread freed: it picks up the next one
    controller.picked_up()
    assert controller.estimated_wait() == pytest.approx(7 * 0.5 / 4 + 0.5)


@pytest.mark.parametrize(("running", "queued"), [(0, 0), (3, 0), (0, 3), (1, 2)])
def test_no_wait_while_a_thread_is_free_whatever_the_mean(running: int, queued: int) -> None:
    """Admitted requests not yet picked up hold no thread yet, but will take one: a fourth
    request finds a free thread only if fewer than four are running or about to."""
    controller = filled(threads=4, budget=1, service=60.0, running=running, queued=queued)
    assert controller.estimated_wait() == 0.0
    assert controller.admit()


def test_every_thread_busy_and_nothing_queued_waits_up_to_one_mean() -> None:
    assert filled(threads=4, budget=100, service=2.0, running=4).estimated_wait() == pytest.approx(2.0)
    assert filled(threads=4, budget=100, service=2.0, running=1, queued=3).estimated_wait() == pytest.approx(
        2.0
    )


def test_counts_never_fall_below_zero() -> None:
    controller = Admission(threads=1, budget=1)
    controller.finished(None)
    assert controller.running == 0
    controller.picked_up()
    assert (controller.queued, controller.running) == (0, 1)


@pytest.mark.parametrize("threads", [0, -3])
def test_at_least_one_thread_is_assumed(threads: int) -> None:
    assert Admission(threads, budget=1).threads == 1


# --- on arrival -----------------------------------------------------------------------------------


def test_a_request_is_admitted_while_the_ones_ahead_can_be_served_within_the_budget() -> None:
    # 4 threads busy, 1 s each, a 3 s budget: the running ones end within 1 s, then 8 queued
    # take 2 s more: the ninth is admitted; behind 9, it would wait 3.25 s.
    controller = filled(threads=4, budget=3, service=1.0, running=4, queued=8)
    assert controller.admit()
    assert controller.queued == 9
    assert not controller.admit()
    assert controller.queued == 9  # a refused request is not queued


def test_a_budget_of_zero_admits_everything() -> None:
    controller = filled(threads=1, budget=0, service=60.0, running=1, queued=500)
    assert controller.admit()
    assert controller.verdict(waited=3600, gone=lambda: False) is None


# --- at pick-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited", "gone", "reason"),
    [
        (0.1, False, None),
        (2.0, False, None),  # exactly the budget: still run
        (2.01, False, Reason.QUEUED_TOO_LONG),
        (1.5, True, Reason.CLIENT_GONE),
        (9.0, True, Reason.CLIENT_GONE),  # nobody to answer: closed, not answered
        (0.5, True, None),  # picked up promptly: maybe a client that half-closed, so it runs
    ],
)
def test_the_verdict_at_pick_up(waited: float, gone: bool, reason: Reason | None) -> None:
    asked: list[bool] = []

    def client_left() -> bool:
        asked.append(True)
        return gone

    assert Admission(threads=2, budget=2).verdict(waited, client_left) is reason
    assert asked == ([True] if waited >= GONE_CHECK_AFTER_SECONDS else [])  # no peek for a prompt one


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected (server side, client side) pair of TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    server.setblocking(True)  # as in a worker thread
    yield server, client
    server.close()
    client.close()


def test_a_connected_client_is_not_gone(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = tcp_pair
    assert not client_gone(server)  # nothing to read: still there, and the check did not wait
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")  # a pipelined request
    assert _readable(server)
    assert not client_gone(server)
    assert server.recv(100) == b"GET / HTTP/1.1\r\n\r\n"  # the peek consumed nothing


def test_a_client_that_closed_is_gone(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = tcp_pair
    client.close()
    assert _readable(server)
    assert client_gone(server)


def test_a_client_that_reset_is_gone(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = tcp_pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # linger 0: a reset
    assert _readable(server)
    assert client_gone(server)


def test_a_closed_socket_is_gone() -> None:
    left, right = socket.socketpair()
    right.close()
    left.close()
    assert client_gone(left)


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 5)[0])


# --- what the worker reads of a request ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "method", "path", "probe"),
    [
        (b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/health", True),
        (b"HEAD /ready?verbose=1 HTTP/1.1\r\n\r\n", "HEAD", "/ready", True),
        (b"GET /ready HTTP/1.0\r\n\r\n", "GET", "/ready", True),
        (b"POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/health", False),
        (b"GET /healthz HTTP/1.1\r\n\r\n", "GET", "/healthz", False),
        (b"GET /health/ HTTP/1.1\r\n\r\n", "GET", "/health/", False),
        (b"GET /api/health HTTP/1.1\r\n\r\n", "GET", "/api/health", False),
        (b"GET http://a/health HTTP/1.1\r\n\r\n", "GET", "http://a/health", False),
        (b"get /health HTTP/1.1\r\n\r\n", "", "", False),  # Gunicorn's parser will refuse it
        (b"\x16\x03\x01garbage", "", "", False),
        (b"GET /api/auth/login?password=hunter2 HTTP/1.1\r\n\r\n", "GET", "/api/auth/login", False),
    ],
)
def test_the_request_target(data: bytes, method: str, path: str, probe: bool) -> None:
    target = request_target(data)
    assert (target.method, target.path, target.is_probe) == (method, path, probe)


def test_a_valid_incoming_request_id_is_kept_and_any_other_replaced() -> None:
    head = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Request-ID: abc-123.DEF_4\r\n\r\n"
    assert request_target(head).request_id == "abc-123.DEF_4"
    for bad in (b"x-request-id: <script>", b"X-Request-ID: " + b"a" * 129, b"X-Other: 1"):
        generated = request_target(b"GET /x HTTP/1.1\r\n" + bad + b"\r\n\r\n").request_id
        assert len(generated) == 32 and all(c in "0123456789abcdef" for c in generated)
    # Only the head is read: a body that looks like a header is not one.
    body = b"POST /x HTTP/1.1\r\nContent-Length: 20\r\n\r\nX-Request-ID: fromthebody\r\n"
    assert request_target(body).request_id != "fromthebody"


# --- what is answered ----------------------------------------------------------------------------


def _parse(raw: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    assert int(headers["content-length"]) == len(body)
    return status, headers, json.loads(body)


def test_the_overloaded_answer_is_a_problem_that_closes_the_connection() -> None:
    target = Target("POST", "/api/fees/payments", "req-1")
    status, headers, body = _parse(overloaded_response(target, 3))
    assert status == "HTTP/1.1 503 Service Unavailable"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["retry-after"] == "3"
    assert headers["x-request-id"] == "req-1"
    for name, value in SECURITY_HEADERS:  # as on every other answer
        assert headers[name.lower()] == value
    assert body["code"] == "overloaded" and body["status"] == 503
    assert body["instance"] == "/api/fees/payments" and body["request_id"] == "req-1"


def test_the_overloaded_answer_has_the_shape_of_the_workers_other_problems() -> None:
    class Sink:
        data = b""

        def gettimeout(self) -> float:
            return 0.0

        def sendall(self, data: bytes) -> None:
            self.data += data

    sink = Sink()
    write_problem(sink, 408, "Request Timeout")  # type: ignore[arg-type]
    _, _, refusal = _parse(sink.data)
    _, _, shed = _parse(overloaded_response(Target("GET", "/x", "r"), 2))
    assert refusal.keys() == shed.keys()
    assert refusal["status"] == 408


def test_retry_after_is_a_few_jittered_seconds() -> None:
    rng = random.Random(7)
    values = {retry_after(rng) for _ in range(200)}
    low, high = admission.RETRY_AFTER_SECONDS
    assert values <= set(range(low, high + 1)) and len(values) > 1
    assert low >= 1


@pytest.mark.parametrize(
    ("value", "budget"),
    [
        ("", 10.0),
        ("4", 4.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-2", 0.0),
        ("soon", 10.0),
        ("inf", 10.0),
        ("nan", 10.0),
    ],
)
def test_the_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, budget: float) -> None:
    monkeypatch.setenv("GUNICORN_QUEUE_BUDGET_SECONDS", value)
    assert queue_budget() == budget


def test_a_shed_request_is_one_log_line_and_one_count_without_its_query() -> None:
    def count() -> float:
        return REGISTRY.get_sample_value("homeroom_requests_shed_total", {"reason": "queued_too_long"}) or 0.0

    before = count()
    target = request_target(b"GET /api/students?q=secret-name HTTP/1.1\r\nX-Request-ID: r-9\r\n\r\n")
    with capture_logs() as logs:
        report_shed(Reason.QUEUED_TOO_LONG, target, 12.34567)
    assert count() == before + 1
    assert logs == [
        {
            "event": "request_shed",
            "log_level": "warning",
            "reason": "queued_too_long",
            "waited_seconds": 12.346,
            "method": "GET",
            "path": "/api/students",
            "request_id": "r-9",
        }
    ]
    assert "secret" not in json.dumps(logs)
