"""Serving without a server: worker sizing from the CPUs a container may really use, the drain,
what the worker reads before a thread takes a request, and what it answers itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import structlog
from gunicorn.http import errors as parse
from structlog.testing import capture_logs

from backend.config import PROJECT_ROOT
from backend.core import gunicorn_errors, serving
from backend.core.gunicorn_errors import ChunkedBody, chunked_framing, problem_headers, request_is_in
from backend.core.gunicorn_worker import DrainingThreadWorker
from backend.core.http import SECURITY_HEADERS


@pytest.fixture
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.usefixtures("four_cpus")
@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({}, 4),  # no cgroup files: affinity only
        ({"cpu.max": "max 100000\n"}, 4),  # v2, unlimited
        ({"cpu.max": "150000 100000\n"}, 2),  # v2, 1.5 CPUs rounds up
        ({"cpu.max": "50000 100000\n"}, 1),  # v2, half a CPU is still one
        ({"cpu.max": "800000 100000\n"}, 4),  # quota above affinity: affinity wins
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),  # v1, unlimited
        ({"cpu.max": "garbage\n"}, 4),  # unreadable: ignored
    ],
)
def test_usable_cpus_honours_quota_and_affinity(tmp_path: Path, files: dict[str, str], cpus: int) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    assert serving.usable_cpus(tmp_path) == cpus
    assert serving.default_workers(tmp_path) == 2 * cpus + 1


def test_affinity_narrower_than_the_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3})
    assert serving.usable_cpus(tmp_path) == 1


@pytest.mark.parametrize(
    ("value", "seconds"), [("", 5.0), ("2.5", 2.5), ("0", 0.0), ("-3", 0.0), ("soon", 5.0)]
)
def test_drain_seconds_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("GUNICORN_DRAIN_SECONDS", value)
    assert serving.drain_seconds() == seconds


def test_ready_is_503_once_draining(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "_draining", type(serving._draining)())
    assert client.get("/ready").status_code == 200
    serving.start_draining()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["shutdown"]
    assert client.get("/health").status_code == 200


def test_thread_stacks_name_every_thread() -> None:
    stacks = serving.thread_stacks()
    assert any(name.startswith("MainThread") for name in stacks)
    assert all("File " in text for text in stacks.values())


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET /health HTTP/1.1\r\nHost: a\r\n", False),  # the head goes on
        (b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", True),
        (b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", False),  # the body goes on
        (b"POST /x HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde", True),
        (b"POST /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", True),  # over the limit: the app refuses it
        (
            b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000,
            True,
        ),  # a head past 64 KiB: Gunicorn's parser refuses it
    ],
)
def test_a_request_is_handed_to_a_thread_only_once_it_is_in(data: bytes, complete: bool) -> None:
    assert request_is_in(data, body_limit=1024 * 1024) is complete


# --- what the worker answers itself (core/gunicorn_errors.py) -------------------------------------

CHUNKED_CASES = [
    (b"2\r\n{}\r\n0\r\n\r\n", True),
    (b"2;name=value\r\n{}\r\n0\r\n\r\n", True),
    (b'2 ;q="a b"\r\n{}\r\n0\r\n\r\n', True),
    (b"2\r\n{}\r\n3\r\n[1]\r\n0\r\nX-Trailer: yes\r\n\r\n", True),
    (b"A\r\n" + b"x" * 10 + b"\r\n0\r\n\r\nGET / HTTP/1.1\r\n", True),  # a pipelined request after it
    (b"zz\r\n", 400),
    (b"zz", 400),  # refused before the line ends
    (b"2 x", 400),
    (b"-2\r\n", 400),
    (b"0x2\r\n", 400),
    (b"\r\n", 400),
    (b" 2\r\n", 400),
    (b"2 \r\n{}\r\n", 400),  # blanks only before an extension
    (b"2\n{}", 400),
    (b"2;\x01\r\n", 400),
    (b"2\r\n{}X", 400),
    (b"1\r\n{}\r\n", 400),
    (b"1" * 9000, 400),  # a size line over limit_request_field_size
    (b"0\r\nBad Trailer: x\r\n\r\n", 400),
    (b"0\r\nContent-Length: 5\r\n\r\n", 400),  # a field forbidden in trailers
    (b"0\r\nX: y\nZ", 400),
    (b"ffffffffff\r\n{", 413),
    (b"800\r\n" + b"x" * 0x800 + b"\r\n801\r\n", 413),  # the sum goes over the limit
    (b"1\r\nx\r\n" * 4000, 413),  # 4000 bytes: within the limit, but framed in six times that
    ((b"1;" + b"e" * 4000 + b"\r\nx\r\n") * 5, 413),  # or long extensions on small chunks
]


@pytest.mark.parametrize(("body", "expected"), CHUNKED_CASES)
def test_a_chunked_body_is_judged_as_its_bytes_arrive(body: bytes, expected: bool | int) -> None:
    head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    outcome = ChunkedBody(len(head), 4096, 8190, 100 * 8192).scan(head + body)
    assert (outcome if isinstance(outcome, bool) else outcome.status) == expected
    # Fed a byte at a time, a well-formed body is awaited up to its last byte, then whole.
    if expected is True:
        scan = ChunkedBody(len(head), 4096, 8190, 100 * 8192)
        end = body.index(b"0\r\n\r\n") + 5 if b"X-Trailer" not in body else len(body)
        answers = [scan.scan(head + body[:size]) for size in range(end + 1)]
        assert answers[:-1] == [False] * end and answers[-1] is True


@pytest.mark.parametrize(
    ("head", "chunked"),
    [
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", True),
        (b"POST / HTTP/1.1\r\ntransfer-encoding:  gzip, Chunked \r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n", False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n", False),  # Gunicorn's 400
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n", False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n", False),
    ],
)
def test_which_bodies_the_main_loop_reads_as_chunked(head: bytes, chunked: bool) -> None:
    assert chunked_framing(head) is chunked


def _refusal_errors() -> list[tuple[BaseException, int]]:
    return [
        (parse.LimitRequestLine(9000, 4094), 414),
        (parse.LimitRequestHeaders("limit request headers fields"), 431),
        (parse.InvalidRequestLine("GET /?token=secret"), 400),
        (parse.InvalidHTTPVersion("HTTP/9"), 400),
        (parse.InvalidHeaderName("Bad Name"), 400),
        (parse.InvalidHeader("CONTENT-LENGTH"), 400),
        (parse.InvalidChunkSize(b"zz"), 400),
        (parse.ChunkMissingTerminator(b"XY"), 400),
        (parse.InvalidResponseHeader("Set-Cookie: secret"), 500),  # the app's fault, not the client's
        (RuntimeError("secret internals"), 500),
    ]


class _Sink:
    data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


@pytest.mark.parametrize(("error", "status"), _refusal_errors())
def test_the_workers_errors_are_problems_with_the_security_headers(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, status: int
) -> None:
    # A logger of its own: the module's may be cached already with the app's processors.
    monkeypatch.setattr(gunicorn_errors, "log", structlog.get_logger("homeroom.gunicorn"))
    worker = SimpleNamespace(_problem_headers=problem_headers(force_https=True))
    sink = _Sink()
    with capture_logs() as logged:
        DrainingThreadWorker.handle_error(worker, None, sink, ("10.0.0.1", 1234), error)
    head, _, body = sink.data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    problem = json.loads(body)
    assert status_line.split(" ")[1] == str(status) and problem["status"] == status
    assert headers["Content-Type"] == "application/problem+json" and headers["Connection"] == "close"
    assert {*SECURITY_HEADERS, ("Strict-Transport-Security", headers["Strict-Transport-Security"])} <= set(
        headers.items()
    )
    assert headers["X-Request-ID"] == problem["request_id"]
    assert "secret" not in sink.data.decode("latin-1")  # no request bytes, no internals
    [line] = logged
    assert (line["event"], line["status"], line["request_id"]) == (
        "request_refused",
        status,
        problem["request_id"],
    )
    assert "secret" not in repr({key: value for key, value in line.items() if key != "exc_info"})
    if status == 414:
        assert status_line == "HTTP/1.1 414 URI Too Long" and problem["title"] == "URI Too Long"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GUNICORN_LIMIT_REQUEST_LINE", "0"),  # Gunicorn's "no limit"
        ("GUNICORN_LIMIT_REQUEST_LINE", "9000"),
        ("GUNICORN_LIMIT_REQUEST_FIELDS", "-1"),
        ("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", "lots"),
    ],
)
def test_gunicorn_limits_are_never_off_or_out_of_range(tmp_path: Path, variable: str, value: str) -> None:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), variable: value}
    code = "import runpy; runpy.run_path('gunicorn_config.py')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78, done.stderr[-2000:]
    assert f"{variable}='{value}'" in done.stderr


_HASH_TWICE = """
import sys, threading
from argon2 import PasswordHasher
from backend.core import serving
if sys.argv[1] == "fixed":
    assert serving.return_large_buffers()
def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
hasher = PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1)  # the OWASP 19 MiB
hasher.hash("warm-up")  # the library's own first-use allocations
before = resident_mib()
threads = [threading.Thread(target=lambda: [hasher.hash("pw") for _ in range(3)]) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print(round(resident_mib() - before, 1))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_argon2_buffers_go_back_to_the_system_once_freed() -> None:
    """Two hashing threads, as a worker has: by default glibc keeps their 19 MiB buffers resident
    after the hashes are done; with `return_large_buffers` (gunicorn_config.py calls it in the
    master) they are returned."""

    def growth(mode: str) -> float:
        result = subprocess.run(
            [sys.executable, "-c", _HASH_TWICE, mode],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return float(result.stdout.strip().splitlines()[-1])

    assert growth("default") >= 15  # what the workers carried after a sign-in
    assert growth("fixed") < 8
