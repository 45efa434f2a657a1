"""Closing a connection without waiting, for the Gunicorn worker's main loop.

Stock gthread closes with Gunicorn's `close_graceful`: it sends FIN, then reads (and drops) what
the client still sends until the client closes, so that unread bytes do not make the kernel send
a reset that cuts the answer short (RFC 9112, section 9.6). It does that blocking, for up to 2 s,
in the main loop: every client slow to close stalled accepting, reading and probes for everyone.
`Lingering` does the same from the worker's poller: the read happens when bytes or EOF arrive, and
the main loop's periodic sweep ends lingers that are over.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from functools import partial

LINGER_SECONDS = 2.0  # as close_graceful
LINGER_DRAIN_BYTES = 65536


class _Linger:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.drained = 0


class Lingering:
    """The connections being closed on one poller. Main loop only (a poller is not thread-safe)."""

    def __init__(self, poller: selectors.BaseSelector, seconds: float = LINGER_SECONDS) -> None:
        self._poller = poller
        self._seconds = seconds
        self._lingers: dict[int, _Linger] = {}

    def __len__(self) -> int:
        return len(self._lingers)

    def close(self, sock: socket.socket) -> None:
        """Send FIN now; close for good once the client has closed too, or the linger is over."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            linger = _Linger(sock, time.monotonic() + self._seconds)
            self._poller.register(sock, selectors.EVENT_READ, partial(self._readable, linger))
        except (OSError, ValueError):  # already reset, or closed
            _close(sock)
            return
        self._lingers[sock.fileno()] = linger

    def sweep(self, force: bool = False) -> None:
        """End the lingers that are over (all of them when `force`)."""
        now = time.monotonic()
        for linger in [item for item in self._lingers.values() if force or item.deadline <= now]:
            self._end(linger)

    def _readable(self, linger: _Linger, _sock: socket.socket) -> None:
        try:
            data = linger.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        linger.drained += len(data)
        if not data or linger.drained >= LINGER_DRAIN_BYTES:
            self._end(linger)

    def _end(self, linger: _Linger) -> None:
        self._lingers.pop(linger.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._poller.unregister(linger.sock)
        _close(linger.sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
