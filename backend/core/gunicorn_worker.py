"""Gunicorn's gthread worker, with the changes Homeroom needs.

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
   Every request on a connection is read this way, the next ones on a kept-alive connection too.
3. **Probes have their own threads.** A GET or HEAD of /health or /ready (any query string) goes
   to a pool of PROBE_THREADS threads of its own, through the same WSGI app: it never queues
   behind application requests, so a busy worker still answers its probes.
4. **Admission control** (`core/admission.py`): a request that cannot be served within
   GUNICORN_QUEUE_BUDGET_SECONDS is answered 503 (`overloaded`, `Retry-After`) without running
   the app, on arrival or when a thread picks it up; a queued one whose client has gone is
   closed unrun. TLS connections, left to stock gthread, are not counted.
5. **Closing never waits.** Stock gthread closes a connection from its main loop with a blocking
   linger of up to 2 s (it sends FIN, then reads until the client closes, so that unread bytes do
   not turn into a reset that cuts the answer): each client slow to close stalled everything
   else, probes included. Here the linger is in the poller (`core/lingering.py`).
6. **Gunicorn's own refusals are problem+json** with the security headers, and close the
   connection (`core/gunicorn_errors.py`: 400, 414, 431, 500). The main loop checks a chunked body
   as it arrives: malformed, it is a 400 at once; over MAX_CONTENT_LENGTH, a 413; else it is read whole.
7. **A recycled worker keeps its idle connections as long as any worker would.** Gunicorn closes
   a retiring worker's kept-alive connections 2 s after it stops; a client reusing one later, at
   its usual pace within GUNICORN_KEEPALIVE, sent into a closed socket and got a reset. With other
   workers serving, they stay for the keep-alive timeout; a request on one is answered with
   `Connection: close`. (A lone worker keeps Gunicorn's 2 s: its successor waits for it.)
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import selectors
import socket
import threading
import time
from concurrent import futures
from functools import partial
from types import FrameType
from typing import Any

import structlog
from gunicorn import util
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from backend.config import SETTINGS_EXTENSION
from backend.core import gunicorn_errors as refusals
from backend.core.admission import (
    PROBE_THREADS,
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
from backend.core.gunicorn_errors import HEAD_LIMIT, Refusal, request_is_in, write_problem
from backend.core.lingering import Lingering
from backend.core.serving import (
    claim_recycle,
    drain_seconds,
    end_recycle,
    server_stopping,
    start_draining,
)

READ_TIMEOUT_VARIABLE = "GUNICORN_REQUEST_READ_TIMEOUT"
ACCEPT_SWEEP_LIMIT = 4096  # at most a listen backlog's worth
log = structlog.get_logger("homeroom.gunicorn")


_SHED = object()  # what a thread returns for a request it refused: the connection is closed


class _Reading:
    """A connection whose request is being buffered by the main loop."""

    def __init__(self, conn: TConn, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.data = bytearray()
        self.body: refusals.ChunkedBody | None = None  # a chunked body's framing, once the head is in


class DrainingThreadWorker(ThreadWorker):
    _stop_timer: threading.Timer | None = None
    _max_requests = 0
    _recycle_claimed = False

    # Gunicorn retires a worker once `nr >= max_requests`. Here a worker that reaches its limit
    # retires only when no other worker is retiring (`claim_recycle`); otherwise it keeps serving
    # and asks again at its next request, so there is always a worker accepting connections.
    @property  # an attribute in Gunicorn's Worker
    def max_requests(self) -> int:
        if self.nr < self._max_requests or self._recycle_claimed:
            return self._max_requests
        if claim_recycle(time.time()):
            self._recycle_claimed = True
            return self._max_requests
        return int(self.nr) + 1

    @max_requests.setter
    def max_requests(self, value: int) -> None:
        self._max_requests = value

    def init_process(self) -> None:
        # Gunicorn writes its refusals through this module function; in our workers, as problems.
        util.write_error = write_problem
        self._reading: dict[int, _Reading] = {}
        self._read_timeout = float(os.environ.get(READ_TIMEOUT_VARIABLE) or 15)
        self._admission = Admission(self.cfg.threads, queue_budget())
        self._probe_pool = futures.ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")
        super().init_process()

    def run(self) -> None:
        self._lingering = Lingering(self.poller)
        try:
            super().run()
        finally:
            self._probe_pool.shutdown(wait=False)
            if self._recycle_claimed:  # its last requests are done: the next worker may retire
                end_recycle()

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        self._probe_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        settings = self.wsgi.extensions[SETTINGS_EXTENSION]
        self._body_limit: int = settings.max_content_length
        self._problem_headers = refusals.problem_headers(settings.force_https)

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """Gunicorn's answer to a request it could not parse or serve: a problem (not an HTML
        page), one log line without the request's bytes. Gunicorn's caller closes the connection."""
        client_ip = addr[0] if isinstance(addr, tuple) and addr else ""
        refusals.refuse(client, refusals.refusal_for(exc), self._problem_headers, error=exc, client=client_ip)

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
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            super().enqueue_req(conn)  # stock gthread: no buffering, no admission control
            return
        reading = _Reading(conn, time.monotonic() + self._read_timeout)
        if conn.parser is not None:  # a kept-alive connection may have read ahead into this request
            reading.data += conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf = io.BytesIO()
            verdict = self._verdict(reading)
            if verdict is not False:
                self._conclude(reading, verdict)
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
        verdict: bool | Refusal = False
        if data:
            reading.data += data
            verdict = self._verdict(reading)
            if verdict is False:
                return False
        if reading.conn.sock.fileno() in self._reading:
            self._stop_reading(reading)
        if data:
            self._conclude(reading, verdict)
        else:  # the client went away
            self.nr_conns -= 1
            reading.conn.close()
        return True

    def _verdict(self, reading: _Reading) -> bool | Refusal:
        """Whether the request is in (True), more is awaited (False), or its chunked body is refused."""
        if reading.body is None:
            reading.body = refusals.chunked_body(reading.data, self._body_limit, self.cfg)
        if reading.body is None:
            return request_is_in(bytes(reading.data), self._body_limit)
        return reading.body.scan(reading.data)

    def _conclude(self, reading: _Reading, verdict: bool | Refusal) -> None:
        """A request that is in goes to a thread; a refused one is answered here and closed."""
        if not isinstance(verdict, Refusal):
            self._dispatch(reading)
            return
        self.nr_conns -= 1
        target = request_target(bytes(reading.data[:HEAD_LIMIT]))
        client = reading.conn.client[0] if isinstance(reading.conn.client, tuple) else ""
        refusals.refuse_target(reading.conn.sock, verdict, self._problem_headers, target, client=client)
        self._lingering.close(reading.conn.sock)

    def _dispatch(self, reading: _Reading) -> None:
        """A request is in: a probe goes to the probe threads; anything else joins the queue of the
        application threads, or is refused at once when that queue cannot be served in time."""
        conn, data = reading.conn, bytes(reading.data)
        target = request_target(data)
        if target.is_probe:
            self._submit(self._probe_pool, self.handle, conn, data)
        elif self._admission.admit():
            serve = partial(self._serve_app, target=target, read_at=time.monotonic())
            self._submit(self.tpool, serve, conn, data)
        else:
            self.nr_conns -= 1
            estimate = round(self._admission.estimated_wait(), 3)
            self._refuse(
                conn, target, Reason.BACKLOG, 0.0, queued=self._admission.queued, estimated_wait=estimate
            )
            self._lingering.close(conn.sock)

    def _submit(self, pool: futures.ThreadPoolExecutor, serve: Any, conn: TConn, data: bytes) -> None:
        conn.sock.setblocking(True)
        conn.init()  # the parser, for a new connection (a kept-alive one has its own)
        conn.parser.unreader.unread(data)
        conn.data_ready = True
        done = pool.submit(serve, conn)
        done.add_done_callback(lambda future: self.method_queue.defer(self.finish_request, conn, future))

    def _serve_app(self, conn: TConn, target: Target, read_at: float) -> Any:
        """In an application thread: run the request, unless its client has gone or it has waited
        longer than the budget."""
        self._admission.picked_up()
        waited = time.monotonic() - read_at
        reason = self._admission.verdict(waited, partial(client_gone, conn.sock))
        if reason is not None:
            self._admission.finished(None)
            self._refuse(conn, target, reason, waited)
            return _SHED
        started = time.monotonic()
        try:
            return self.handle(conn)
        finally:
            self._admission.finished(time.monotonic() - started)

    def _refuse(self, conn: TConn, target: Target, reason: Reason, waited: float, **extra: Any) -> None:
        """Log and count a shed request, and answer it 503 unless its client has gone. The answer
        is small: writing it never waits. The caller closes the connection."""
        report_shed(reason, target, waited, **extra)
        if reason is not Reason.CLIENT_GONE:
            with contextlib.suppress(OSError):  # the client may be gone already
                util.write_nonblock(conn.sock, overloaded_response(target, retry_after()))

    def finish_request(self, conn: TConn, fs: futures.Future[Any]) -> None:
        """As stock gthread, except that a connection to close lingers in the poller."""
        result = None if fs.cancelled() or fs.exception() is not None else fs.result()
        if (result is _SHED or result is False) and not self.cfg.is_ssl:
            self.nr_conns -= 1
            self._lingering.close(conn.sock)
            return
        super().finish_request(conn, fs)

    def _stop_reading(self, reading: _Reading) -> None:
        self._reading.pop(reading.conn.sock.fileno(), None)
        self.poller.unregister(reading.conn.sock)

    def _cap_keepalive(self, deadline: float) -> None:  # Gunicorn's, as the worker stops
        if self._recycle_claimed and self.cfg.workers > 1:  # a recycle, not a server stop
            deadline = max(deadline, time.monotonic() + self.cfg.keepalive)
        super()._cap_keepalive(deadline)

    def murder_keepalived(self, force: bool = False) -> None:
        """Also answer 408 to clients whose request has not come in within the read timeout, and
        end the lingers that are over."""
        super().murder_keepalived(force)
        now = time.monotonic()
        self._lingering.sweep(force)
        for reading in [r for r in self._reading.values() if force or r.deadline <= now]:
            self._stop_reading(reading)
            self.nr_conns -= 1
            if not force:
                refusals.refuse(reading.conn.sock, refusals.REQUEST_TIMEOUT, self._problem_headers)
            reading.conn.close()
