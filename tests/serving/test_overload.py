"""Graceful overload in a real Gunicorn (core/gunicorn_worker.py, core/admission.py): with every
application thread busy, a request beyond the queue budget is answered 503 at once, a queued one
that waited past it is answered 503 unrun, one whose client left is never run, and /health and
/ready answer meanwhile on threads of their own.

Which requests ran is what the test route wrote down (SERVING_RUNS_FILE). Nothing here asserts a
speed: only that answers came before the blocking requests finished (seconds of margin). One
worker, so the queue is one queue; every load is bounded in count and time, on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.serving.conftest import Server

BLOCK_SECONDS = 6  # how long the requests that hold every thread take
SHED_LINE = "request_shed"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.monotonic() when the answer was in


def _call(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    """One request on a fresh connection (Connection: close), bounded by a generous timeout."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        raw = response.read()
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_in, json.loads(raw) if raw else {}, time.monotonic())
    finally:
        connection.close()


def _one_worker(gunicorn: Any, tmp_path: Path, *, threads: int, budget: str) -> tuple[Server, Path]:
    """One worker with `threads` threads and a queue budget; the file its slow route records runs in."""
    runs = tmp_path / "runs.txt"
    server: Server = gunicorn(
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS=str(threads),
        GUNICORN_QUEUE_BUDGET_SECONDS=budget,
        SERVING_RUNS_FILE=str(runs),
    )
    return server, runs


def _runs(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for_runs(path: Path, mark: str, count: int, timeout: float = 20) -> None:
    """Until `count` runs of `mark` have started (bounded: at most `timeout` seconds of polling)."""
    for _ in range(int(timeout / 0.05)):
        if _runs(path).count(mark) >= count:
            break
        time.sleep(0.05)
    assert _runs(path).count(mark) >= count, f"{count} x {mark} never started: {_runs(path)}"


def _shed_lines(server: Server, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The request_shed log lines, once there are `count` of them (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in server.logs() if line["event"] == SHED_LINE]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def _shed_count(server: Server, reason: str) -> float:
    """homeroom_requests_shed_total{reason} from /metrics (summed over the workers' files)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/metrics", headers={"Connection": "close"})
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    prefix = f'homeroom_requests_shed_total{{reason="{reason}"}} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


def test_beyond_the_budget_requests_get_a_prompt_503_and_never_run(gunicorn, tmp_path: Path) -> None:
    server, runs = _one_worker(gunicorn, tmp_path, threads=2, budget="1.8")
    port = server.port
    with ThreadPoolExecutor(max_workers=8) as pool:
        # The worker learns that its requests take about a second each.
        seeds = [pool.submit(_call, port, "/api/_test/sleep?seconds=1&mark=seed") for _ in range(2)]
        assert [seed.result(timeout=60).status for seed in seeds] == [200, 200]
        blockers = [
            pool.submit(_call, port, f"/api/_test/sleep?seconds={BLOCK_SECONDS}&mark=blocker")
            for _ in range(2)
        ]
        _wait_for_runs(runs, "blocker", 2)  # both threads busy for BLOCK_SECONDS
        # Six more, about a second each on two threads once a running one ends (up to a second):
        # the first two fit in the 1.8 s budget and are queued, the rest are refused on arrival.
        queued = [
            pool.submit(
                _call,
                port,
                f"/api/_test/sleep?seconds=0.1&mark=queued-{n}",
                headers={"X-Request-ID": f"q-{n}"},
            )
            for n in range(6)
        ]
        answers = [answer.result(timeout=60) for answer in queued]
        finished = [blocker.result(timeout=60) for blocker in blockers]

    assert [answer.status for answer in finished] == [200, 200]
    first_finished = min(answer.at for answer in finished)
    for n, answer in enumerate(answers):
        assert answer.status == 503, answer
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["connection"] == "close"
        assert 1 <= int(answer.headers["retry-after"]) <= 10
        assert answer.body["code"] == "overloaded" and answer.body["request_id"] == f"q-{n}"
        assert answer.body["instance"] == "/api/_test/sleep"
    # The ones beyond the budget were answered at once, while both threads were still blocked...
    prompt = [answer for answer in answers if answer.at < first_finished]
    assert len(prompt) >= 4, [answer.at - first_finished for answer in answers]
    # ...and the ones admitted, having waited past the budget, were refused too: none ran.
    assert sorted(_runs(runs)) == ["blocker", "blocker", "seed", "seed"]

    lines = _shed_lines(server, 6)
    assert len(lines) == 6
    reasons = [line["reason"] for line in lines]
    assert set(reasons) == {"backlog", "queued_too_long"}
    assert reasons.count("backlog") >= 4
    for line in lines:
        assert (line["method"], line["path"]) == ("GET", "/api/_test/sleep")
        assert "mark=" not in json.dumps(line)  # never the query string
    for reason in set(reasons):
        assert _shed_count(server, reason) == reasons.count(reason)


def test_probes_answer_while_every_application_thread_is_blocked(gunicorn, tmp_path: Path) -> None:
    server, runs = _one_worker(gunicorn, tmp_path, threads=2, budget="60")
    port = server.port
    with ThreadPoolExecutor(max_workers=8) as pool:
        blockers = [
            pool.submit(_call, port, f"/api/_test/sleep?seconds={BLOCK_SECONDS}&mark=blocker")
            for _ in range(2)
        ]
        _wait_for_runs(runs, "blocker", 2)
        queued = [pool.submit(_call, port, "/api/_test/sleep?seconds=0.1&mark=queued") for _ in range(4)]
        time.sleep(0.3)  # the queued requests are in, behind the blocked threads
        probes = [
            _call(port, "/health"),
            _call(port, "/ready?verbose=1"),
            _call(port, "/health", method="HEAD"),
            _call(port, "/ready", method="HEAD"),
        ]
        waited = [answer.result(timeout=60) for answer in queued]
        finished = [blocker.result(timeout=60) for blocker in blockers]

    assert [probe.status for probe in probes] == [200] * 4
    assert probes[0].body == {"status": "ok"} and probes[1].body["status"] == "ready"
    assert all(answer.status == 200 for answer in waited + finished)
    # Answered while the application requests were still waiting for a thread.
    last_probe = max(probe.at for probe in probes)
    assert last_probe < min(answer.at for answer in finished)
    assert last_probe < min(answer.at for answer in waited)
    assert _runs(runs).count("queued") == 4
    assert not [line for line in server.logs() if line["event"] == SHED_LINE]


def test_a_queued_request_whose_client_left_is_never_run(gunicorn, tmp_path: Path) -> None:
    server, runs = _one_worker(gunicorn, tmp_path, threads=1, budget="60")
    port = server.port
    with ThreadPoolExecutor(max_workers=4) as pool:
        blocker = pool.submit(_call, port, "/api/_test/sleep?seconds=3&mark=blocker")
        _wait_for_runs(runs, "blocker", 1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as gone:
            gone.sendall(b"GET /api/_test/sleep?seconds=0.1&mark=gone HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)  # its request is queued; the client has closed the connection
        stayed = pool.submit(_call, port, "/api/_test/sleep?seconds=0.1&mark=stayed")
        assert blocker.result(timeout=60).status == 200
        assert stayed.result(timeout=60).status == 200

    assert _runs(runs) == ["blocker", "stayed"]
    lines = _shed_lines(server, 1)
    assert [(line["reason"], line["path"]) for line in lines] == [("client_gone", "/api/_test/sleep")]
    assert lines[0]["waited_seconds"] > 0
    assert _shed_count(server, "client_gone") == 1


def test_the_next_request_on_a_kept_alive_connection_is_read_before_a_thread_is_given(gunicorn) -> None:
    """A client that trickles its second request on a kept-alive connection holds no thread: with
    one thread, another client is served meanwhile, and the trickler gets its 408."""
    server: Server = gunicorn(GUNICORN_WORKERS="1", GUNICORN_THREADS="1", GUNICORN_REQUEST_READ_TIMEOUT="3")
    kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        kept.request("GET", "/api/_test/pid")
        response = kept.getresponse()
        response.read()
        assert response.status == 200 and not response.will_close
        assert kept.sock is not None
        kept.sock.sendall(b"GET /api/_test/pid HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
        time.sleep(0.5)
        assert _call(server.port, "/api/_test/pid").status == 200  # the one thread is free
        kept.sock.settimeout(30)
        assert kept.sock.recv(4096).startswith(b"HTTP/1.1 408")
    finally:
        kept.close()


def test_clients_slow_to_close_do_not_stall_the_worker(gunicorn) -> None:
    """Each client here reads its answer (Connection: close) and keeps its end open. Stock gthread
    waited up to 2 s for each in its main loop before doing anything else; here each lingers in
    the poller (tests/core/test_lingering.py shows the close does not wait), and every client and
    /health are served while all ten still hold their ends open."""
    server: Server = gunicorn(GUNICORN_WORKERS="1", GUNICORN_THREADS="4")
    held: list[socket.socket] = []
    try:
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            held.append(sock)
            sock.sendall(b"GET /api/_test/pid HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _call(server.port, "/health").status == 200
    finally:
        for sock in held:
            sock.close()
