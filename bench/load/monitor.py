"""What the runner watches itself, outside Locust: /health and /ready every 0.5 s (each in its
own thread, so one slow answer does not delay the other), and each Gunicorn worker's RSS."""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

PROBE_TIMEOUT = 10.0


def probe(port: int, path: str) -> tuple[int, float]:
    """(status or 0 when no answer, milliseconds) of one GET on a fresh connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, (time.perf_counter() - started) * 1000


@dataclass
class Monitor:
    """Samples until `stop()`, or for at most `max_seconds` (a bound should stop() never come)."""

    port: int
    master_pid: int
    max_seconds: float
    interval: float = 0.5
    probes: dict[str, list[tuple[float, int, float]]] = field(default_factory=dict)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (time, pid, MiB)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for path in ("/health", "/ready"):
            self.probes[path] = []
            self._threads.append(threading.Thread(target=self._poll, args=(path,), daemon=True))
        self._threads.append(threading.Thread(target=self._sample_rss, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PROBE_TIMEOUT + 2)

    def _ticks(self, interval: float) -> Any:
        deadline = time.monotonic() + self.max_seconds
        next_tick = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            yield
            next_tick = max(next_tick + interval, time.monotonic())  # after a slow answer: at once
            self._stop.wait(next_tick - time.monotonic())

    def _poll(self, path: str) -> None:
        for _ in self._ticks(self.interval):
            started = time.time()
            status, ms = probe(self.port, path)
            self.probes[path].append((started, status, ms))

    def _sample_rss(self) -> None:
        for _ in self._ticks(1.0):
            now = time.time()
            with contextlib.suppress(psutil.NoSuchProcess):
                for worker in psutil.Process(self.master_pid).children():
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss = worker.memory_info().rss  # 0 for a killed worker not reaped yet
                        if rss and worker.status() != psutil.STATUS_ZOMBIE:
                            self.rss.append((now, worker.pid, rss / 2**20))

    def as_json(self) -> dict[str, Any]:
        return {
            "probes": {path: [list(sample) for sample in samples] for path, samples in self.probes.items()},
            "rss": [list(sample) for sample in self.rss],
        }
