"""Gunicorn's gthread worker, with a drain period between SIGTERM and the graceful stop.

On SIGTERM the worker marks itself draining, so /ready answers 503 and load balancers stop sending
new work, while it keeps accepting and serving for GUNICORN_DRAIN_SECONDS. Then Gunicorn's usual
graceful stop runs: no new connections, in-flight requests finish. The drain counts against
graceful_timeout, after which the master kills the worker; keep it well below.
"""

from __future__ import annotations

import threading
from types import FrameType

from gunicorn.workers.gthread import ThreadWorker

from backend.core.serving import drain_seconds, start_draining


class DrainingThreadWorker(ThreadWorker):
    _stop_timer: threading.Timer | None = None

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
