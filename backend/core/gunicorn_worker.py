"""Gunicorn's gthread worker, with three changes Homeroom needs.

1. **A drain on SIGTERM.** The worker marks itself draining, so /ready answers 503 and load
   balancers stop sending new work, while it keeps accepting and serving for
   GUNICORN_DRAIN_SECONDS. Then Gunicorn's usual graceful stop runs: no new connections, in-flight
   requests finish. The drain counts against graceful_timeout; keep it well below.
   When the whole server is stopping, the worker first accepts what the kernel has queued and then
   shuts the listening socket (shared by every worker) for reading: from then on the kernel refuses
   new connections, where it would otherwise accept them into its queue and reset them when the
   socket closes after the last worker. A client is refused (and retries elsewhere), never reset.
2. **Requests are read before a thread is given.** Stock gthread hands a connection to a thread as
   soon as its first bytes arrive, and the thread then blocks until the request is complete: thirty
   clients trickling headers hold every thread, and /health waits. Here the main loop buffers the
   request head, and a body of known length up to MAX_CONTENT_LENGTH, without blocking, and a
   thread gets the connection only once they are in. A client that takes longer than
   GUNICORN_REQUEST_READ_TIMEOUT is answered 408 and closed. (TLS connections are left to stock
   gthread: their bytes can only be read after the handshake.)
3. **Gunicorn's own refusals are problem+json**, like every other error.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import selectors
import socket
import threading
import time
from functools import partial
from types import FrameType
from typing import Any

import structlog
from gunicorn import util
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from backend.config import SETTINGS_EXTENSION
from backend.core.errors import STATUS_CODES
from backend.core.serving import drain_seconds, server_stopping, start_draining

PROBLEM_DETAILS = {
    400: "The request could not be parsed.",
    408: "The request was not received in time.",
    414: "The request line is too long.",
    431: "The request has too many header fields, or one that is too long.",
}
READ_TIMEOUT_VARIABLE = "GUNICORN_REQUEST_READ_TIMEOUT"
ACCEPT_SWEEP_LIMIT = 4096  # at most a listen backlog's worth
log = structlog.get_logger("homeroom.gunicorn")
HEAD_LIMIT = 64 * 1024  # past this without an end of head, Gunicorn's parser answers (414/431)
_END_OF_HEAD = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?$", re.I | re.M)


def write_problem(sock: socket.socket, status_int: int, reason: str, _message: str = "") -> None:
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


def request_is_in(data: bytes, body_limit: int) -> bool:
    """Whether `data` holds a whole request head, and its body when its length is known and within
    the limit (a larger one is refused by the app from its Content-Length, unread)."""
    end = data.find(_END_OF_HEAD)
    if end < 0:
        return len(data) > HEAD_LIMIT
    length = _CONTENT_LENGTH.search(data, 0, end + 2)
    wanted = int(length.group(1)) if length else 0
    return wanted > body_limit or len(data) - end - len(_END_OF_HEAD) >= wanted


class _Reading:
    """A connection whose request is being buffered by the main loop."""

    def __init__(self, conn: TConn, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.data = bytearray()


class DrainingThreadWorker(ThreadWorker):
    _stop_timer: threading.Timer | None = None

    def init_process(self) -> None:
        # Gunicorn writes its refusals through this module function; in our workers, as problems.
        util.write_error = write_problem
        self._reading: dict[int, _Reading] = {}
        self._read_timeout = float(os.environ.get(READ_TIMEOUT_VARIABLE) or 15)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self._body_limit: int = self.wsgi.extensions[SETTINGS_EXTENSION].max_content_length

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        start_draining()
        delay = drain_seconds()
        if delay <= 0 or not self.alive:
            super().handle_exit(sig, frame)
            return
        if self._stop_timer is None:
            # The main loop ends the drain (it owns the listeners and the poller).
            end = partial(self.method_queue.defer, partial(self._end_drain, sig, frame))
            self._stop_timer = threading.Timer(delay, end)
            self._stop_timer.daemon = True
            self._stop_timer.start()

    def _end_drain(self, sig: int, frame: FrameType | None) -> None:
        if server_stopping():
            self._close_the_door()
        super().handle_exit(sig, frame)

    def _close_the_door(self) -> None:
        """Serve every connection already queued on the listeners, then have the kernel refuse new ones."""
        for listener in self.sockets:
            for _ in range(ACCEPT_SWEEP_LIMIT):
                before = self.nr_conns
                self.accept(listener)
                if self.nr_conns == before:
                    break
            with contextlib.suppress(OSError):  # another worker may have shut it already
                listener.sock.shutdown(socket.SHUT_RD)
        self.set_accept_enabled(False)
        log.info("listener_closed", pid=os.getpid(), effect="new connections are refused")

    def accept(self, listener: Any) -> None:
        try:
            super().accept(listener)
        except OSError as error:
            # The listener was shut by a worker ending the server's drain: accept no more.
            if error.errno != errno.EINVAL or not server_stopping():
                raise
            self.set_accept_enabled(False)

    # --- reading requests in the main loop ---------------------------------------------------------

    def enqueue_req(self, conn: TConn) -> None:
        """Hand a connection to a thread, once its request is in (buffered here if need be)."""
        if (
            getattr(conn, "buffered", False)
            or self.cfg.is_ssl
            or negotiation.prior_knowledge_allowed(self.cfg, conn.client)
        ):
            conn.buffered = False
            super().enqueue_req(conn)
            return
        reading = _Reading(conn, time.monotonic() + self._read_timeout)
        if conn.parser is not None:  # a kept-alive connection may have read ahead into this request
            reading.data += conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf = io.BytesIO()
            if request_is_in(bytes(reading.data), self._body_limit):
                self._dispatch(reading)
                return
        conn.sock.setblocking(False)
        # Usually called because the socket turned readable: the request is often all there.
        if self._receive(reading):
            return
        self._reading[conn.sock.fileno()] = reading
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, reading))

    def _on_bytes(self, reading: _Reading, _sock: socket.socket) -> None:
        self._receive(reading)

    def _receive(self, reading: _Reading) -> bool:
        """Read what has arrived: hand a complete request to a thread, or close the connection of a
        client that went away (True); False while more is awaited."""
        try:
            data = reading.conn.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if data:
            reading.data += data
            if not request_is_in(bytes(reading.data), self._body_limit):
                return False
        if reading.conn.sock.fileno() in self._reading:
            self._stop_reading(reading)
        if data:
            self._dispatch(reading)
        else:  # the client went away
            self.nr_conns -= 1
            reading.conn.close()
        return True

    def _dispatch(self, reading: _Reading) -> None:
        conn = reading.conn
        conn.sock.setblocking(True)
        conn.init()  # the parser, for a new connection (a kept-alive one has its own)
        conn.parser.unreader.unread(bytes(reading.data))
        conn.data_ready = conn.buffered = True
        super().enqueue_req(conn)

    def _stop_reading(self, reading: _Reading) -> None:
        self._reading.pop(reading.conn.sock.fileno(), None)
        self.poller.unregister(reading.conn.sock)

    def murder_keepalived(self, force: bool = False) -> None:
        """Also answer 408 to clients whose request has not come in within the read timeout."""
        super().murder_keepalived(force)
        now = time.monotonic()
        for reading in [r for r in self._reading.values() if force or r.deadline <= now]:
            self._stop_reading(reading)
            self.nr_conns -= 1
            if not force:
                with contextlib.suppress(OSError):  # the client may be gone already
                    write_problem(reading.conn.sock, 408, "Request Timeout")
            reading.conn.close()
