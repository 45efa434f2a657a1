"""A TCP proxy on 127.0.0.1 in front of a real server (Redis, PostgreSQL) that can refuse, reset,
freeze or slow the path, the way networks fail. Bounded: every thread stops when the proxy closes."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from enum import Enum


class Mode(Enum):
    PASS = "pass"  # bytes flow both ways
    FREEZE = "freeze"  # connections stay open, nothing moves (packets dropped, not refused)
    SLOW = "slow"  # every chunk waits `delay` seconds
    RESET = "reset"  # every connection is reset, new ones too
    REFUSE = "refuse"  # nothing listens: connecting is refused


_TICK = 0.05


class FaultProxy:
    def __init__(self, target_port: int, *, delay: float = 1.0) -> None:
        self.target = ("127.0.0.1", target_port)
        self.delay = delay
        self.mode = Mode.PASS
        # When set, every connection is reset once it has carried this many bytes towards the
        # server: a transfer cut midway.
        self.cut_after_bytes: int | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(_TICK)
        return listener

    # --- the faults ---------------------------------------------------------------------------------

    def set(self, mode: Mode) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
            if mode is Mode.RESET:
                for pair in self._pairs:
                    for sock in pair:
                        _reset(sock)
                self._pairs.clear()
            if mode is Mode.REFUSE and previous is not Mode.REFUSE:
                self._listener.close()
            if previous is Mode.REFUSE and mode is not Mode.REFUSE:
                self._listener = self._listen(self.port)

    @contextlib.contextmanager
    def fault(self, mode: Mode) -> Iterator[None]:
        self.set(mode)
        try:
            yield
        finally:
            self.set(Mode.PASS)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for pair in self._pairs:
                for sock in pair:
                    sock.close()
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- plumbing -----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            if self.mode is Mode.REFUSE:
                time.sleep(_TICK)
                continue
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode is Mode.RESET:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink, outbound in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(target=self._pump, args=(source, sink, outbound), daemon=True)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        carried = 0
        try:
            while not self._closed.is_set():
                if self.mode is Mode.FREEZE:  # leave the bytes unread: the sender's window fills
                    time.sleep(_TICK)
                    continue
                readable, _, _ = select.select([source], [], [], _TICK)
                if not readable or self.mode is Mode.FREEZE:  # frozen while it waited: no slipping through
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if self.mode is Mode.SLOW:
                    time.sleep(self.delay)
                limit = self.cut_after_bytes
                if outbound and limit is not None and carried + len(data) >= limit:
                    sink.sendall(data[: max(limit - carried, 0)])
                    _reset(source)
                    _reset(sink)
                    break
                carried += len(data)
                sink.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset by peer'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
