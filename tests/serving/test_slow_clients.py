"""Slow clients cannot starve the server: fifty connections trickling their headers or bodies hold
no worker thread, so /health and a signed-in request are served meanwhile (how fast is measured by
bench/slow_clients.py, not asserted here); a client too slow for GUNICORN_REQUEST_READ_TIMEOUT is
answered 408. Real Gunicorn, bounded loads on 127.0.0.1 only."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.request
from typing import Any

from tests.conftest import PASSWORD, Account, AppFactory, make_school, make_user
from tests.serving.conftest import Server

SLOW_CLIENTS = 50
TRICKLE_SECONDS = 12.0  # longer than the answers below may take without the fix


def _trickle(port: int, head: bytes, tail: bytes, answers: list[bytes]) -> None:
    """Send `head` at once, then `tail` one byte every 0.5 s until the server answers; keep the
    answer (bounded: the tail is at most TRICKLE_SECONDS long)."""
    answer = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head)
            for byte in tail[: int(TRICKLE_SECONDS / 0.5)]:
                if select.select([sock], [], [], 0.5)[0]:  # the server has spoken: stop sending
                    answer = sock.recv(4096)
                    break
                sock.sendall(bytes([byte]))
    except OSError:
        pass
    answers.append(answer)


def _get(port: int, path: str, headers: dict[str, str], timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
        response.read()
        return response.status, time.monotonic() - started


def _sign_in(port: int, account: Account) -> str:
    """Sign in over HTTP, through the server under test."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/login",
        data=json.dumps({"email": account.email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        body: dict[str, Any] = json.loads(response.read())
    return str(body["access_token"])


def test_fifty_slow_clients_do_not_stop_health_or_a_signed_in_request(gunicorn, make_app: AppFactory) -> None:
    app = make_app()  # the server's database: make an account there
    account = make_user(app, make_school(app), "admin")
    server: Server = gunicorn(GUNICORN_REQUEST_READ_TIMEOUT="4")
    token = _sign_in(server.port, account)
    answers: list[bytes] = []
    slow_head = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"a" * 40 + b"\r\n\r\n")
    body = json.dumps({"email": "slow@example.org", "password": "x" * 60}).encode()  # 25 s at 2 bytes/s
    slow_body = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body),
        body,
    )
    clients = [
        threading.Thread(target=_trickle, args=(server.port, *(slow_head if n % 2 else slow_body), answers))
        for n in range(SLOW_CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(1.5)  # every slow client connected and sending
        for _ in range(5):
            assert _get(server.port, "/health", {}, timeout=8)[0] == 200
            assert (
                _get(server.port, "/api/auth/me", {"Authorization": f"Bearer {token}"}, timeout=8)[0] == 200
            )
    finally:
        for client in clients:
            client.join(timeout=TRICKLE_SECONDS + 15)
    # The slow ones were cut off at the read timeout with a 408 problem, not served a thread.
    timed_out = [answer for answer in answers if answer.startswith(b"HTTP/1.1 408")]
    assert len(timed_out) == SLOW_CLIENTS, [answer[:40] for answer in answers]
    assert all(b"application/problem+json" in answer for answer in timed_out)
