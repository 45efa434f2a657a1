"""What Gunicorn needs from the app: CPU sizing, fork and exit hooks, stack dumps, log routing."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import multiprocessing
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import structlog
from flask import Flask

from backend.core.cache import CACHE_EXTENSION
from backend.core.db import dispose_pools

log = structlog.get_logger("homeroom.serving")
CGROUP_ROOT = Path("/sys/fs/cgroup")
DRAIN_SECONDS_VARIABLE = "GUNICORN_DRAIN_SECONDS"
DEFAULT_DRAIN_SECONDS = 5.0

# Set in a worker that was told to stop: /ready answers 503 from then on, /health stays 200.
_draining = threading.Event()
# Set by the master when the whole server stops (not a reload, not one worker retiring), in memory
# that the workers it forks share: then the last worker out closes the door on new connections.
_server_stopping = multiprocessing.RawValue("b", 0)


def server_stopping() -> bool:
    return bool(_server_stopping.value)


def watch_server_stop(arbiter: Any) -> None:
    """In the master: mark the server as stopping when Gunicorn's arbiter begins its final stop.

    A stop of one of a USR2 pair of masters is not final (they share the listening socket), nor
    is SIGHUP's replacement of workers (it sends them SIGTERM too, without `stop`).
    """
    stop = arbiter.stop

    def stopping(graceful: bool = True) -> None:
        if arbiter.reexec_pid == arbiter.master_pid == 0:
            _server_stopping.value = 1
        stop(graceful)

    arbiter.stop = stopping


# Until when (time.time()) one worker is recycling after GUNICORN_MAX_REQUESTS, in memory the
# workers share. Workers see the same traffic, so they reach their limit together; were all to
# retire at once, no worker would accept (not even /health) until their replacements booted.
_recycling_until = multiprocessing.Value("d", 0.0)
RECYCLE_HOLD_SECONDS = 15.0  # the claim's end if the retiring worker never says it is done (killed)


def claim_recycle(now: float, hold: float = RECYCLE_HOLD_SECONDS) -> bool:
    """Whether this worker may retire now (then the others wait `hold` seconds for their turn)."""
    with _recycling_until.get_lock():
        if _recycling_until.value > now:
            return False
        _recycling_until.value = now + hold
        return True


def end_recycle() -> None:
    """The retiring worker has finished its last requests (its successor boots now)."""
    with _recycling_until.get_lock():
        _recycling_until.value = 0.0


def is_draining() -> bool:
    return _draining.is_set()


def start_draining() -> None:
    if not _draining.is_set():
        _draining.set()
        log.info("draining", pid=os.getpid())


def drain_seconds() -> float:
    """How long a worker keeps serving after SIGTERM with /ready at 503, before it stops accepting."""
    try:
        return max(0.0, float(os.environ.get(DRAIN_SECONDS_VARIABLE) or DEFAULT_DRAIN_SECONDS))
    except ValueError:
        return DEFAULT_DRAIN_SECONDS


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The container's CPU quota in CPUs (cgroup v2 `cpu.max`, else v1 CFS files), or None."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may really use: its affinity mask, capped by any container quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return max(1, cpus)


def default_workers(root: Path = CGROUP_ROOT) -> int:
    return 2 * usable_cpus(root) + 1


def freeze_preloaded_heap() -> None:
    """In the master, after the app is preloaded and before workers fork: move every object into
    the collector's permanent generation. Workers' collections then never walk the preloaded app
    (no 100 ms pauses) nor write to its pages (which would copy them into each worker)."""
    gc.collect()
    gc.freeze()
    log.info("heap_frozen", objects=gc.get_freeze_count())


# Allocations of this size or more are mapped on their own and returned to the system when freed.
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at 1 MiB (in the master, inherited by every worker).

    By default glibc raises the threshold to the size of the largest mapped block freed so far
    (up to 32 MiB), after which blocks that size come from the heap and stay resident after
    they are freed. argon2's 19 MiB buffer, on each of the hashing threads, then stayed in every
    worker that had hashed a password: about 38 MiB per worker after a single sign-in (issue 30).
    Setting the threshold explicitly turns that adjustment off. False where the C library is not
    glibc (nothing changes)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def after_fork(app: Flask) -> None:
    """In a new worker: forget connections inherited from the master without closing them.

    Flask-Limiter's Redis client resets its own pool when it sees a new pid (redis-py does so).
    """
    dispose_pools(app, close=False)
    app.extensions[CACHE_EXTENSION].after_fork()


def on_worker_exit(app: Flask) -> None:
    """A worker leaving: close its own pooled connections cleanly."""
    dispose_pools(app, close=True)


def thread_stacks() -> dict[str, str]:
    """The current stack of every thread, for a worker killed on timeout."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return {
        f"{names.get(ident, 'unknown')}({ident})": "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
    }
