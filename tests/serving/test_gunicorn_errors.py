"""What Gunicorn answers itself, before the app sees a request (a request it cannot parse, over its
limits, a malformed chunked body), against a real Gunicorn: a problem+json with every security
header, Connection: close, and promptly. Raw bytes on 127.0.0.1; the client keeps its sending
side open, as an attacker would, so an answer that waits for more bytes is a hang: the socket
timeout fails the test (no wall-clock time is asserted).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.core.http import SECURITY_HEADERS
from tests.serving.conftest import Server

ANSWER_TIMEOUT = 5.0  # a hang fails here; a prompt answer takes milliseconds
HEAD = b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
CHUNKED_HEAD = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the answer

    def problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = json.loads(self.body)
        return problem


def _read_answer(sock: socket.socket) -> Answer:
    """One response: its head, then Content-Length bytes of body, then whether EOF follows."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed without answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} sent twice"
        headers[name.lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the body was cut short"
        body += chunk
    closed = False
    if headers.get("connection") == "close" and len(body) == length:  # then EOF must follow
        try:
            closed = sock.recv(65536) == b""
        except ConnectionResetError:
            closed = True
    return Answer(int(status_line.split(" ")[1]), headers, body[:length], closed)


def exchange(port: int, *parts: bytes, pause: float = 0.0) -> Answer:
    """Send `parts` (pausing between them), never shutting the sending side, and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as sock:
        for number, part in enumerate(parts):
            if number:
                time.sleep(pause)
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed before all was sent: read that answer
        return _read_answer(sock)


def assert_refusal(answer: Answer, status: int, code: str = "bad_request") -> dict[str, Any]:
    """A problem+json refusal with every security header, closing the connection."""
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.problem()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    for name, value in SECURITY_HEADERS:
        assert answer.headers.get(name.lower()) == value, name
    assert answer.headers["connection"] == "close"
    assert answer.closed, "the connection stayed open"
    return problem


def each_case(cases: dict[str, bytes], check: Callable[[bytes], object]) -> None:
    """Run `check` on every case (one server for them all) and report every one that fails."""
    failures = {}
    for name, case in cases.items():
        try:
            check(case)
        except (AssertionError, OSError) as error:  # OSError: a socket timeout, the hang we look for
            failures[name] = f"{type(error).__name__}: {error}"[:300]
    assert failures == {}


BAD_REQUEST_LINES = {
    "three-words": b"NOT A REQUEST\r\nHost: a\r\n\r\n",
    "no-version": b"GET /health\r\nHost: a\r\n\r\n",
    "bad-version": b"GET /health HTTP/9.9\r\nHost: a\r\n\r\n",
    "bad-method": b"G(T /health HTTP/1.1\r\nHost: a\r\n\r\n",
    "space-in-target": b"GET /he alth HTTP/1.1\r\nHost: a\r\n\r\n",
    "binary": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
}
INVALID_HEADERS = {
    "space-in-name": b"GET /health HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
    "separator-in-name": b"GET /health HTTP/1.1\r\nHost: a\r\nBad(Name): x\r\n\r\n",
    "empty-name": b"GET /health HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
    "nul-in-name": b"GET /health HTTP/1.1\r\nHost: a\r\nX-A\x00: x\r\n\r\n",
    "nul-in-value": b"GET /health HTTP/1.1\r\nHost: a\r\nX-Value: a\x00b\r\n\r\n",
    "two-lengths": HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "length-and-chunked": HEAD + b"Content-Length: 2\r\n" + CHUNKED_HEAD[len(HEAD) :] + b"0\r\n\r\n",
}
MALFORMED_CHUNKED = {  # bodies after CHUNKED_HEAD; the client sends nothing more and waits
    "non-hex-size": b"zz\r\n{}\r\n0\r\n\r\n",
    "non-hex-size-line-not-ended": b"zz",
    "space-in-size-line-not-ended": b"2 x",
    "no-crlf-after-chunk-more-awaited": b"2\r\n{}X",
    "negative-size": b"-2\r\n{}\r\n0\r\n\r\n",
    "0x-size": b"0x2\r\n{}\r\n0\r\n\r\n",
    "empty-size": b"\r\n{}\r\n0\r\n\r\n",
    "no-crlf-after-chunk": b"2\r\n{}XX0\r\n\r\n",
    "chunk-longer-than-its-size": b"1\r\n{}\r\n0\r\n\r\n",
    "bad-extension": b"2;\x01\r\n{}\r\n0\r\n\r\n",
    "bare-lf": b"2\n{}\r\n0\r\n\r\n",
    "size-line-too-long": b"1" * 9000,
    "bad-trailer": b"2\r\n{}\r\n0\r\nBad Trailer: x\r\n\r\n",
}


def test_a_bad_request_line_is_a_400_problem(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn()
    each_case(BAD_REQUEST_LINES, lambda request: assert_refusal(exchange(server.port, request), 400))


def test_a_request_line_over_the_limit_is_a_414_problem_that_does_not_echo_it(
    gunicorn: Callable[..., Server],
) -> None:
    server = gunicorn()
    uri = b"/api/students?token=" + b"s3cr3t" * 1500  # 9000 bytes and more
    request = b"GET " + uri + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    problem = assert_refusal(exchange(server.port, request), 414, "uri_too_long")
    assert problem["title"] == "URI Too Long"
    assert "s3cr3t" not in json.dumps(problem)
    assert "s3cr3t" not in server.log_path.read_text()
    [refused] = [line for line in server.logs() if line["event"] == "request_refused"]
    assert (refused["status"], refused["reason"]) == (414, "request line too long")
    assert refused["request_id"] == problem["request_id"]


def test_too_large_or_too_many_headers_are_a_431_problem(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn()
    large = b"GET /health HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + b"t0ken" * 4000 + b"\r\n\r\n"
    many = (
        b"GET /health HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-F-%d: v\r\n" % n for n in range(200)) + b"\r\n"
    )
    cases = {"a-20-kb-header": large, "200-headers": many}
    each_case(
        cases,
        lambda request: assert_refusal(
            exchange(server.port, request), 431, "request_header_fields_too_large"
        ),
    )
    assert "t0ken" not in server.log_path.read_text()


def test_an_invalid_header_is_a_400_problem(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn()
    each_case(INVALID_HEADERS, lambda request: assert_refusal(exchange(server.port, request), 400))


def test_a_malformed_chunked_body_is_a_prompt_400_problem(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn()

    def check(body: bytes) -> None:
        assert_refusal(exchange(server.port, CHUNKED_HEAD + body), 400)
        assert server.get("/health")[0] == 200  # the next connection is served as usual

    each_case(MALFORMED_CHUNKED, check)
    refused = [line for line in server.logs() if line["event"] == "request_refused"]
    assert {(line["status"], line["reason"], line["path"]) for line in refused} == {
        (400, "malformed chunked body", "/api/auth/login")
    }


def test_a_chunked_body_far_over_the_limit_is_refused_without_waiting_for_it(
    gunicorn: Callable[..., Server],
) -> None:
    server = gunicorn()
    assert_refusal(exchange(server.port, CHUNKED_HEAD + b"ffffffffff\r\n{"), 413, "payload_too_large")


def test_a_slow_well_formed_chunked_body_is_read_and_parsed(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn()
    first, second = b'{"email": "a@', b'example.org"}'
    body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(first), first, len(second), second)
    # Split in the middle of a chunk's data, and inside the first chunk-size line.
    for split in (body.index(b"example"), 1):
        answer = exchange(server.port, CHUNKED_HEAD + body[:split], body[split:], pause=1.0)
        # The JSON was read whole: the one field missing is the password.
        assert answer.status == 422, answer.body
        assert [error["field"] for error in answer.problem()["errors"]] == ["body.password"]
        for name, value in SECURITY_HEADERS:
            assert answer.headers.get(name.lower()) == value, name


def test_chunked_bodies_that_stop_coming_hold_no_thread_and_are_answered_408(
    gunicorn: Callable[..., Server],
) -> None:
    """More stalled chunked bodies than threads: before, each held a thread with no time limit,
    and a request behind them was never served."""
    server = gunicorn(GUNICORN_WORKERS="1", GUNICORN_THREADS="2", GUNICORN_REQUEST_READ_TIMEOUT="2")
    stalled = []
    for _ in range(4):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(CHUNKED_HEAD + b"5\r\n{")
        stalled.append(sock)
    try:
        body = b'{"email": "a@example.org"}'
        answer = exchange(server.port, HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert answer.status == 422, answer.body  # served while they wait
        for sock in stalled:
            assert_refusal(_read_answer(sock), 408, "request_timeout")
    finally:
        for sock in stalled:
            sock.close()
