"""Gunicorn settings. Every value can be overridden from the environment; see .env.example.

Preloaded app, gthread workers sized to the CPUs the container really has, recycled after
GUNICORN_MAX_REQUESTS requests. The app writes the access log; Gunicorn's own lines go through
the app's structlog pipeline.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Metrics from every worker go to files in one folder; this must happen before anything imports
# prometheus_client (the app is preloaded below). PROMETHEUS_MULTIPROC_DIR names the folder (made
# if missing; a relative path is under the project root); unset or empty, a fresh one in /dev/shm
# (or the temp folder). Homeroom deletes only its own metrics files there ({type}_{pid}.db), at
# each server start and when the server stops, and removes only a folder it made itself: an
# operator's folder, and anything else in it, stays. A reload (SIGHUP) re-reads this file in the
# same master and keeps the files: counters survive it.
_METRICS_OWNER = "HOMEROOM_METRICS_DIR_OWNER"  # backend.config's METRICS_DIR_OWNER_VARIABLE
_METRICS_DIR_MADE = "HOMEROOM_METRICS_DIR_MADE"  # "1" when this server made the folder
_METRICS_FILE = re.compile(r"(?:counter|histogram|summary|gauge_[a-z]+)_\d+\.db")


def _clear_metrics_files(folder: Path) -> None:
    """Delete the files prometheus_client writes in `folder`, and nothing else."""
    for path in folder.glob("*.db"):
        if _METRICS_FILE.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)


def _prepare_metrics_dir() -> None:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(__file__).resolve().parent / given  # a relative path: under the project root
        made = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, not a shared temp folder
        folder = Path(tempfile.mkdtemp(prefix="homeroom-metrics-", dir=shm if shm.is_dir() else None))
        made = True
    _clear_metrics_files(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    os.environ[_METRICS_DIR_MADE] = "1" if made else ""
    os.environ[_METRICS_OWNER] = str(os.getpid())
    os.environ["HOMEROOM_STARTED_AT"] = str(time.time())


if os.environ.get(_METRICS_OWNER) != str(os.getpid()):
    _prepare_metrics_dir()

import structlog  # noqa: E402 - after the metrics directory is set
from gunicorn import glogging  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from backend.config import SETTINGS_EXTENSION  # noqa: E402
from backend.core.admission import queue_budget  # noqa: E402
from backend.core.gunicorn_errors import HEAD_LIMIT  # noqa: E402
from backend.core.gunicorn_worker import DrainingThreadWorker  # noqa: E402
from backend.core.ratelimit import per_process_warning  # noqa: E402
from backend.core.serving import (  # noqa: E402
    after_fork,
    default_workers,
    drain_seconds,
    freeze_preloaded_heap,
    on_worker_exit,
    return_large_buffers,
    thread_stacks,
    watch_server_stop,
)
from backend.probes.checks import report_dependencies  # noqa: E402

# Before the app is preloaded, so the master and every worker it forks keep the setting: a freed
# argon2 buffer (19 MiB per hashing thread) goes back to the system instead of staying resident.
return_large_buffers()


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


bind = f"0.0.0.0:{_env('PORT', '8000')}"
workers = int(_env("GUNICORN_WORKERS", str(default_workers())))
threads = int(_env("GUNICORN_THREADS", "4"))
# gthread, plus a drain period after SIGTERM during which /ready answers 503, probes on threads of
# their own, and admission control: GUNICORN_QUEUE_BUDGET_SECONDS (default 10) bounds how long a
# request may wait for a thread before it is answered 503 unrun (see the class and core/admission.py).
worker_class = _env("GUNICORN_WORKER_CLASS", "backend.core.gunicorn_worker.DrainingThreadWorker")
preload_app = True
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = int(_env("GUNICORN_MAX_REQUESTS_JITTER", "50"))
timeout = int(_env("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(_env("GUNICORN_KEEPALIVE", "5"))


def _limit(name: str, default: int, highest: int) -> int:
    """A request limit from the environment, 1..highest. Gunicorn reads 0 as "no limit" (a request
    line of up to 1 MiB, 32768 header fields): a limit is never turned off by accident. A bad value
    stops the server with exit status 78 (EX_CONFIG), like every other configuration error."""
    raw = _env(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= highest:
        sys.stderr.write(f"{name}={raw!r}: must be a whole number from 1 to {highest} (default {default}).\n")
        raise SystemExit(78)
    return int(raw)


# What Gunicorn refuses before the app sees a request. Our worker answers each as problem+json with
# the security headers and closes the connection (core/gunicorn_errors.py); the cap on each is
# Gunicorn's own, or the 64 KiB head the worker reads before a thread takes the request.
# - a request line (method, path, query, version) over limit_request_line bytes: 414 URI Too Long.
#   4094 (Gunicorn's default) holds every path here with its longest query: a page cursor is ~100
#   bytes, filters a few dozen; 8190 at most (Gunicorn's cap).
# - more than limit_request_fields header fields: 431. Browsers send about 20, proxies add a few
#   (X-Forwarded-*, traceparent): 100 is room enough, and bounds the work per request.
# - a header field over limit_request_field_size bytes (name and value): 431. The longest we take is
#   a bearer token (a JWT, under 1 KiB) or a Cookie header with the refresh token: 8190 (Gunicorn's
#   default, and what nginx's default large_client_header_buffers lets through) leaves room.
#   It also bounds a chunked body's chunk-size line, and with limit_request_fields its trailers.
limit_request_line = _limit("GUNICORN_LIMIT_REQUEST_LINE", 4094, 8190)
limit_request_fields = _limit("GUNICORN_LIMIT_REQUEST_FIELDS", 100, 32768)
limit_request_field_size = _limit("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190, HEAD_LIMIT)
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1")
keyfile = os.environ.get("SSL_KEYFILE") or None
certfile = os.environ.get("SSL_CERTFILE") or None
# Heartbeat files in memory: faster, and they work on a read-only root filesystem.
_SHM = Path("/dev/shm")  # noqa: S108 - a tmpfs, not a shared temp folder
worker_tmp_dir = _env("GUNICORN_WORKER_TMP_DIR", str(_SHM) if _SHM.is_dir() else "") or None
accesslog = None  # the app logs each request once, with its request id
errorlog = "-"
loglevel = _env("LOG_LEVEL", "info").lower()
proc_name = "homeroom"
# Gunicorn's control socket lives at one path per user ($HOME/.gunicorn), which a read-only root
# filesystem refuses and two servers on one host share; Homeroom is managed with signals instead.
control_socket_disable = True

log = structlog.get_logger("homeroom.gunicorn")


class StructlogLogger(glogging.Logger):
    """Gunicorn's logger, handing its records to the root logger the app configures."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


logger_class = StructlogLogger


def when_ready(server: Any) -> None:
    """Once per server start, in the master: what is serving, and what an operator should know."""
    per_process_warning(server.app.wsgi().extensions[SETTINGS_EXTENSION])
    report_dependencies(server.app.wsgi())
    watch_server_stop(server)
    freeze_preloaded_heap()  # last thing before the first workers fork
    if not issubclass(server.cfg.worker_class, DrainingThreadWorker):
        log.warning(
            "shutdown_drain_disabled",
            worker_class=server.cfg.worker_class_str,
            effect="on SIGTERM the port closes at once; /ready never answers 503 first",
            fix="unset GUNICORN_WORKER_CLASS (default: backend.core.gunicorn_worker.DrainingThreadWorker)",
        )
    log.info(
        "gunicorn_started",
        workers=server.cfg.workers,
        threads=server.cfg.threads,
        bind=",".join(server.cfg.bind),
        worker_class=server.cfg.worker_class_str,
        max_requests=server.cfg.max_requests,
        timeout=server.cfg.timeout,
        graceful_timeout=server.cfg.graceful_timeout,
        drain_seconds=drain_seconds(),
        queue_budget_seconds=queue_budget(),  # GUNICORN_QUEUE_BUDGET_SECONDS, read by each worker
        metrics_dir=os.environ["PROMETHEUS_MULTIPROC_DIR"],
    )


def post_fork(server: Any, worker: Any) -> None:
    after_fork(server.app.wsgi())


def worker_abort(worker: Any) -> None:
    log.error("worker_timeout", pid=worker.pid, stacks=thread_stacks())


def worker_exit(server: Any, worker: Any) -> None:
    on_worker_exit(server.app.wsgi())


def child_exit(server: Any, worker: Any) -> None:
    """In the master, for each worker gone (recycled, killed): its live gauges stop counting; its
    counters stay in the files, so totals do not drop."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """The server stops: delete this master's metrics files; remove the folder only if it made it
    (and only once it is empty)."""
    if os.environ.get(_METRICS_OWNER) != str(os.getpid()):
        return
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    _clear_metrics_files(folder)
    if os.environ.get(_METRICS_DIR_MADE):
        try:
            folder.rmdir()
        except OSError as error:  # not empty (someone put a file there), or gone already
            log.warning("metrics_dir_kept", path=str(folder), reason=error.strerror)
