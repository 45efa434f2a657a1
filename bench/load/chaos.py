"""The faults, where they fall in the run, and a log line for each with its moment.

redis   Redis killed (SIGKILL), started again `redis_seconds` later
pg      the PostgreSQL path cut through the fault proxy (every connection reset) for `pg_seconds`
kill    one Gunicorn worker SIGKILLed (the master starts another)
reload  a graceful reload: SIGHUP to the master (new workers, the old ones finish what they have)
term    SIGTERM to the master near the end of the last step, with the users still sending
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil

from bench.load.stack import Stack
from tests.faults import Mode

ALL = ("redis", "pg", "kill", "reload", "term")
# Where each fault falls: (step index, fraction of that step); `term` is placed from the end.
PLACES = {"redis": (0, 0.45), "pg": (1, 0.35), "kill": (1, 0.75), "reload": (2, 0.45)}
# Faults during which a client may see its connection refused or reset.
CONNECTION_FAULTS = frozenset({"kill", "reload", "term"})


@dataclass
class Fault:
    name: str
    start: float  # time.time()
    end: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(faults: list[str], steps: list[tuple[int, float]]) -> list[tuple[float, str]]:
    """(seconds after the load starts, fault) in order; a missing step means the last one."""
    starts = [sum(seconds for _, seconds in steps[:i]) for i in range(len(steps))]
    total = sum(seconds for _, seconds in steps)
    planned = []
    for name in faults:
        if name == "term":
            planned.append((total - min(10.0, 0.15 * steps[-1][1]), name))
            continue
        step, fraction = PLACES[name]
        step = min(step, len(steps) - 1)
        planned.append((starts[step] + fraction * steps[step][1], name))
    return sorted(planned)


def say(message: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='milliseconds')}  {message}", flush=True)


@dataclass
class Injector:
    stack: Stack
    redis_seconds: float
    pg_seconds: float
    watchers: list[threading.Thread] = field(default_factory=list)

    def inject(self, name: str) -> Fault:
        action: Callable[[], str] = getattr(self, f"_{name}")
        start = time.time()
        say(f"fault {name}: begins")
        old_workers = self.stack.server.workers()
        detail = action()
        fault = Fault(name, start, time.time(), detail)
        say(f"fault {name}: {detail}")
        if name == "reload":  # its window lasts until the old workers have finished and gone
            watcher = threading.Thread(target=self._until_gone, args=(fault, old_workers), daemon=True)
            watcher.start()
            self.watchers.append(watcher)
        return fault

    @staticmethod
    def _until_gone(fault: Fault, workers: list[psutil.Process], timeout: float = 60.0) -> None:
        _, alive = psutil.wait_procs(workers, timeout=timeout)
        fault.end = time.time()
        fault.detail += (
            f"; old workers {'still there' if alive else 'gone'} after {fault.end - fault.start:.1f} s"
        )

    def settle(self, timeout: float = 60.0) -> None:
        for watcher in self.watchers:
            watcher.join(timeout=timeout)

    def _redis(self) -> str:
        self.stack.redis.kill()
        time.sleep(self.redis_seconds)
        self.stack.redis.start()
        return f"redis-server killed, started again after {self.redis_seconds:.0f} s"

    def _pg(self) -> str:
        with self.stack.proxy.fault(Mode.RESET):
            time.sleep(self.pg_seconds)
        return f"PostgreSQL path reset for {self.pg_seconds:.0f} s, then passing again"

    def _kill(self) -> str:
        workers = self.stack.server.workers()
        if not workers:
            return "no worker to kill"
        victim = random.choice(workers)
        os.kill(victim.pid, signal.SIGKILL)
        return f"worker {victim.pid} SIGKILLed"

    def _reload(self) -> str:
        self.stack.server.process.send_signal(signal.SIGHUP)
        return f"SIGHUP to master {self.stack.server.process.pid}"

    def _term(self) -> str:
        self.stack.server.process.send_signal(signal.SIGTERM)
        return f"SIGTERM to master {self.stack.server.process.pid}"


def run_plan(
    injector: Injector, planned: list[tuple[float, str]], t0: float, locust: subprocess.Popen[bytes]
) -> list[Fault]:
    """Inject each fault at its moment; stops early if Locust ends. Bounded by the plan itself."""
    faults = []
    for offset, name in planned:
        while time.time() < t0 + offset and locust.poll() is None:
            time.sleep(min(0.2, max(0.0, t0 + offset - time.time())))
        if locust.poll() is not None:
            say(f"fault {name}: skipped (the load ended first)")
            continue
        faults.append(injector.inject(name))
    return faults


def finish_term(faults: list[Fault], stack: Stack, timeout: float) -> None:
    """After a `term` fault: wait for the master to exit; the fault's window ends then."""
    for fault in faults:
        if fault.name != "term":
            continue
        try:
            code = stack.server.process.wait(timeout=timeout)
            fault.detail += f"; master exited with {code} after {time.time() - fault.start:.1f} s"
        except subprocess.TimeoutExpired:
            fault.detail += f"; master still running after {timeout:.0f} s"
        fault.end = time.time()
        say(f"fault term: {fault.detail}")
