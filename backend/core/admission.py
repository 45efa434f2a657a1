"""Admission control for the Gunicorn worker: which requests are run, and which are refused before
the app sees them. Plain logic, used by `core/gunicorn_worker.py` and tested without Gunicorn.

A request is timed from the moment the worker's main loop has read all of it. Its queueing is
bounded by a budget (GUNICORN_QUEUE_BUDGET_SECONDS, default 10 s; 0 turns the budget off):

- **On arrival**, when no thread is free and the requests ahead cannot be served within the
  budget (those waiting, times the recent mean service time, over the application threads, plus
  one mean for the requests running now), it is answered at once: a 503 problem (`code:
  overloaded`) with a jittered `Retry-After` and `Connection: close`.
- **When a thread picks it up**, a request that waited and whose client has gone (its socket at
  EOF or reset) is closed unanswered, and one that has waited longer than the budget gets that
  503: neither runs. (A client that half-closes after sending its request cannot be told from
  one that left: when its request has waited a second or more, it is taken as gone.)

A shed request never reached the app, so nothing was done for it: a client may retry even a
create. With the 10 s default, a client that waits 30 s (browsers' fetch wrappers, Locust, most
SDKs) hears back after at most about the budget plus one request's own time, well before it
gives up; a client that would wait longer would only let work pile up that nobody is waiting for.
Each shed request is one `request_shed` log line and counts in `homeroom_requests_shed_total`.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import select
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from backend.core.http import SECURITY_HEADERS
from backend.core.metrics import REQUESTS_SHED

BUDGET_VARIABLE = "GUNICORN_QUEUE_BUDGET_SECONDS"
DEFAULT_BUDGET_SECONDS = 10.0
PROBE_THREADS = 2
PROBE_METHODS = frozenset({"GET", "HEAD"})
PROBE_PATHS = frozenset({"/health", "/ready"})
SERVICE_WINDOW = 64  # the mean service time is over this many recent requests
# The mean before a worker has finished anything (a new or recycled one, in a burst), on the slow
# side of this app's requests (a sign-in): lower, such a worker admits requests it then refuses at
# pick-up after the whole budget; higher, it refuses ones it could have served. The first finished
# request replaces it.
SERVICE_PRIOR_SECONDS = 0.5
SERVICE_FLOOR_SECONDS = 0.005  # never less: a queue is never free, however fast the last requests were
GONE_CHECK_AFTER_SECONDS = 1.0  # only a request that waited this long is checked for its client
RETRY_AFTER_SECONDS = (2, 5)  # jittered, so that refused clients do not all come back together
OVERLOADED_DETAIL = "The server is overloaded and did not run this request. Try again shortly."
PATH_LOG_LIMIT = 200
log = structlog.get_logger("homeroom.admission")
_RANDOM = random.Random()  # noqa: S311 - jitter, not a secret
_REQUEST_LINE = re.compile(rb"([A-Z]{1,16}) ([^ \r\n]+)")
_REQUEST_ID = re.compile(rb"^x-request-id:[ \t]*([A-Za-z0-9._-]{1,128})[ \t]*\r?$", re.I | re.M)


class Reason(StrEnum):
    BACKLOG = "backlog"  # on arrival: the queue ahead cannot be served within the budget
    QUEUED_TOO_LONG = "queued_too_long"  # at pick-up: it waited longer than the budget
    CLIENT_GONE = "client_gone"  # at pick-up: nobody is waiting for the answer


def queue_budget() -> float:
    """GUNICORN_QUEUE_BUDGET_SECONDS: how long a request may wait for a thread (0: no limit)."""
    try:
        value = float(os.environ.get(BUDGET_VARIABLE) or DEFAULT_BUDGET_SECONDS)
    except ValueError:
        return DEFAULT_BUDGET_SECONDS
    return max(0.0, value) if math.isfinite(value) else DEFAULT_BUDGET_SECONDS


@dataclass(frozen=True)
class Target:
    """What the main loop knows of a buffered request: enough to route, answer and log it. The
    path carries no query string (it may hold secrets)."""

    method: str
    path: str
    request_id: str

    @property
    def is_probe(self) -> bool:
        return self.method in PROBE_METHODS and self.path in PROBE_PATHS


def request_target(data: bytes) -> Target:
    """The method, path and request id (a valid incoming X-Request-ID, else a new one) of a
    buffered request. A request line that does not parse gives an empty method and path: the
    request is then queued like any other, and Gunicorn's parser refuses it."""
    head = data[: data.find(b"\r\n\r\n") + 2] if b"\r\n\r\n" in data else data
    line = _REQUEST_LINE.match(head)
    method, target = (line.group(1), line.group(2)) if line else (b"", b"")
    incoming = _REQUEST_ID.search(head)
    return Target(
        method=method.decode("latin-1"),
        path=target.split(b"?", 1)[0].decode("latin-1"),
        request_id=incoming.group(1).decode("ascii") if incoming else uuid.uuid4().hex,
    )


class Admission:
    """One worker's queue of application requests and the decisions about it. Thread-safe: the
    main loop admits requests, the application threads pick them up and report their times."""

    def __init__(self, threads: int, budget: float, window: int = SERVICE_WINDOW) -> None:
        self.threads = max(1, threads)
        self.budget = budget
        self._times: deque[float] = deque(maxlen=window)
        self._queued = 0
        self._running = 0
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Requests admitted and not yet picked up by a thread."""
        return self._queued

    @property
    def running(self) -> int:
        """Requests a thread has picked up and not finished."""
        return self._running

    def mean_service(self) -> float:
        """The recent mean time a thread spends on a request, never below the floor."""
        with self._lock:
            return self._mean()

    def _mean(self) -> float:
        if not self._times:
            return SERVICE_PRIOR_SECONDS
        return max(SERVICE_FLOOR_SECONDS, sum(self._times) / len(self._times))

    def estimated_wait(self) -> float:
        """How long a request arriving now would wait for a thread."""
        with self._lock:
            return self._estimate()

    def _estimate(self) -> float:
        """Nothing while a thread is free for it. Otherwise the requests that wait ahead of it,
        served `threads` at a time, after the requests running now, which may take up to one mean
        each: in a burst they all started together."""
        waiting = self._queued + self._running - self.threads
        if waiting < 0:
            return 0.0
        mean = self._mean()
        return waiting * mean / self.threads + mean

    def admit(self) -> bool:
        """On arrival: count the request into the queue (True), or refuse it (False) when the
        requests ahead of it cannot be served within the budget."""
        with self._lock:
            if self.budget > 0 and self._estimate() > self.budget:
                return False
            self._queued += 1
            return True

    def picked_up(self) -> None:
        """A thread took an admitted request off the queue."""
        with self._lock:
            self._queued = max(0, self._queued - 1)
            self._running += 1

    def finished(self, service_seconds: float | None) -> None:
        """A thread is done with a request it picked up: it ran in `service_seconds`, or (None) it
        was refused and did not run."""
        with self._lock:
            self._running = max(0, self._running - 1)
            if service_seconds is not None:
                self._times.append(max(0.0, service_seconds))

    def verdict(self, waited: float, gone: Callable[[], bool]) -> Reason | None:
        """At pick-up: why a request must not run, or None to run it. Whether its client has gone
        is asked only of a request that waited GONE_CHECK_AFTER_SECONDS: a client may shut its
        sending side once its request is out (RFC 9112 allows it), and that EOF looks the same as
        one that left; nobody gives up within a second, so a prompt request always runs."""
        if waited >= GONE_CHECK_AFTER_SECONDS and gone():
            return Reason.CLIENT_GONE
        if self.budget > 0 and waited > self.budget:
            return Reason.QUEUED_TOO_LONG
        return None


def client_gone(sock: socket.socket) -> bool:
    """Whether the client has closed or reset its connection, without waiting or consuming
    anything: the socket is readable and a peek finds EOF or an error. Bytes waiting (a pipelined
    request) or nothing at all both mean it is still there."""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # reset, or already closed (no descriptor any more)
        return True


def retry_after(rng: random.Random = _RANDOM) -> int:
    return rng.randint(*RETRY_AFTER_SECONDS)


def problem_bytes(
    status: int,
    reason: str,
    detail: str,
    code: str,
    *,
    instance: str = "",
    request_id: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, written by the worker
    itself (no app, no request context): the shape `core/errors.py` gives every other error."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": detail,
            "instance": instance,
            "code": code,
            "request_id": request_id,
        }
    ).encode()
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", "Content-Type: application/problem+json"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def overloaded_response(target: Target, retry_seconds: int) -> bytes:
    """The 503 a shed request gets."""
    return problem_bytes(
        503,
        "Service Unavailable",
        OVERLOADED_DETAIL,
        "overloaded",
        instance=target.path[:PATH_LOG_LIMIT],
        request_id=target.request_id,
        headers=(
            ("Retry-After", str(retry_seconds)),
            ("X-Request-ID", target.request_id),
            *SECURITY_HEADERS,  # as on every answer (no-store among them)
        ),
    )


def report_shed(reason: Reason, target: Target, waited: float, **extra: Any) -> None:
    """One log line and one count per shed request; never the query string, never the body."""
    REQUESTS_SHED.labels(reason.value).inc()
    log.warning(
        "request_shed",
        reason=reason.value,
        waited_seconds=round(waited, 3),
        method=target.method,
        path=target.path[:PATH_LOG_LIMIT],
        request_id=target.request_id,
        **extra,
    )
