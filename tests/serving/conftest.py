"""A real Gunicorn process on 127.0.0.1, started with the project's gunicorn_config.py."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.config import PROJECT_ROOT
from tests.conftest import free_port

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
START_TIMEOUT = 30.0


def get(port: int, path: str, timeout: float = 15.0) -> tuple[int, dict[str, Any]]:
    """One request on a fresh connection (Connection: close); returns status and JSON body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log_path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    def get(self, path: str, timeout: float = 15.0) -> tuple[int, dict[str, Any]]:
        return get(self.port, path, timeout)

    def logs(self) -> list[dict[str, Any]]:
        """Every log line so far, parsed; all of them must be JSON."""
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def worker_pids(self) -> set[int]:
        return {
            int(line["event"].rsplit(" ", 1)[1])
            for line in self.logs()
            if line.get("logger") == "gunicorn.error" and line["event"].startswith("Booting worker with pid")
        }

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_path.read_text()[-3000:]}")
        try:
            if server.get("/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /health in time")


@pytest.fixture
def gunicorn(migrated_database: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start Gunicorn with environment overrides; every server is stopped after the test."""
    servers: list[Server] = []

    def start(app: str = "tests.serving.serving_app:application", **env: str) -> Server:
        """Serve `app` (module:callable) on a free port, with `env` over the serving defaults."""
        port = free_port()
        log_path = tmp_path / f"gunicorn-{port}.log"
        environment = {
            **os.environ,
            "HOMEROOM_ENV_FILE": "",
            "APP_ENV": "testing",
            "LOG_FORMAT": "json",
            "DATABASE_URL": migrated_database,
            "PORT": str(port),
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "4",
            "GUNICORN_DRAIN_SECONDS": "1",
            "GUNICORN_GRACEFUL_TIMEOUT": "10",
            "HEALTH_REPORT_MAX_AGE_SECONDS": "0",  # /api/health as things are now
            **env,
        }
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                [GUNICORN, "--config", "gunicorn_config.py", app],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
            )
        server = Server(process, port, log_path)
        servers.append(server)
        _wait_until_up(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGQUIT)
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=5)


# A checkout as a newcomer has it: no .env, no instance/, no caches (this run's .venv is linked in).
CHECKOUT_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "instance", ".env", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the project without .env or instance/, using this run's virtual environment."""
    root = tmp_path / "homeroom"
    shutil.copytree(PROJECT_ROOT, root, ignore=CHECKOUT_SKIP)
    (root / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    return root


def clean_env(**extra: str) -> dict[str, str]:
    """Only what a shell on a fresh machine has (no FLASK_SKIP_DOTENV, no HOMEROOM_ENV_FILE), plus `extra`."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**base, **extra}
