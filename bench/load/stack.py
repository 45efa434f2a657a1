"""What the load run starts on 127.0.0.1, each with its own stop registered on an ExitStack so
that Ctrl-C or a failure anywhere still ends every process: a redis-server of its own, a TCP
fault proxy in front of PostgreSQL (tests/faults.py), Gunicorn with the project's settings, and
the Locust process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy.engine import make_url

from bench.common import ROOT, Server, free_port, homeroom_env, start_gunicorn
from tests.faults import FaultProxy

LOCUST = str(Path(sys.executable).with_name("locust"))
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class RedisProcess:
    """A redis-server on a free port, killed (as a crash would) and started again at will."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Stack:
    redis: RedisProcess
    proxy: FaultProxy
    server: Server


def through_proxy(database_url: str, port: int) -> str:
    return make_url(database_url).set(port=port).render_as_string(hide_password=False)


def start_stack(stack: ExitStack, database_url: str, results: Path, extra_env: dict[str, str]) -> Stack:
    """Redis, the proxy and Gunicorn (2 workers x 4 threads unless `extra_env` says otherwise:
    `run.py --workers/--threads`)."""
    redis_process = RedisProcess(free_port())
    stack.callback(redis_process.kill)
    redis_process.start()
    database_port = make_url(database_url).port or 5432
    proxy = FaultProxy(database_port)
    stack.callback(proxy.close)
    env = homeroom_env(
        through_proxy(database_url, proxy.port),
        redis_process.url,
        free_port(),
        **{"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4", **extra_env},
        ASSISTANT_RATE_LIMIT="1000000 per minute",
    )
    for name in ("ASSISTANT_API_URL", "ASSISTANT_MODEL", "ASSISTANT_API_KEY", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    server = start_gunicorn("gunicorn", "wsgi:application", env, results)
    stack.callback(server.stop, signal.SIGTERM, 40.0)
    return Stack(redis_process, proxy, server)


def start_locust(stack: ExitStack, host: str, results: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Locust, headless, with the step shape of the locustfile; its output goes to results/."""
    command = [
        LOCUST,
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--csv",
        str(results / "locust"),
        "--logfile",
        str(results / "locust.log"),
        "--loglevel",
        "INFO",
        "--only-summary",
        "--exit-code-on-error",
        "0",
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "LOAD_LOG_DIR": str(results), **env}
    with (results / "locust.out").open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop_process, process)
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for_line(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    """When `text` first appears in the log at `path` (time.time()); fails if the process ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return time.time()
        if process.poll() is not None:
            raise RuntimeError(f"{path.name}: the process ended before {text!r}")
        time.sleep(0.1)
    raise RuntimeError(f"{path.name}: no {text!r} within {timeout:.0f} s")
