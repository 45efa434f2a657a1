"""Gunicorn's gthread worker, with a drain period between SIGTERM and the graceful stop.

On SIGTERM the worker marks itself draining, so /ready answers 503 and load balancers stop sending
new work, while it keeps accepting and serving for GUNICORN_DRAIN_SECONDS. Then Gunicorn's usual
graceful stop runs: no new connections, in-flight requests finish. The drain counts against
graceful_timeout, after which the master kills the worker; keep it well below.
"""

from __future__ import annotations

import json
import socket
import threading
from types import FrameType

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from backend.core.errors import STATUS_CODES
from backend.core.serving import drain_seconds, start_draining

PROBLEM_DETAILS = {
    400: "The request could not be parsed.",
    414: "The request line is too long.",
    431: "The request has too many header fields, or one that is too long.",
}


def write_problem(sock: socket.socket, status_int: int, reason: str, _message: str) -> None:
    """Gunicorn's own refusals (a request it cannot parse, over its limits) as problem+json, like
    every other error. The detail is fixed: Gunicorn's message would echo the request line."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status_int,
            "detail": PROBLEM_DETAILS.get(status_int, reason),
            "instance": "",
            "code": STATUS_CODES.get(status_int, "bad_request"),
            "request_id": None,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class DrainingThreadWorker(ThreadWorker):
    _stop_timer: threading.Timer | None = None

    def init_process(self) -> None:
        # Gunicorn writes its refusals through this module function; in our workers, as problems.
        util.write_error = write_problem
        super().init_process()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        start_draining()
        delay = drain_seconds()
        if delay <= 0 or not self.alive:
            super().handle_exit(sig, frame)
            return
        if self._stop_timer is None:
            self._stop_timer = threading.Timer(delay, super().handle_exit, args=(sig, frame))
            self._stop_timer.daemon = True
            self._stop_timer.start()
