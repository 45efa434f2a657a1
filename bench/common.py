"""What the benchmark and the load suite share: a database of their own, the demo school, and
Gunicorn processes started, measured (CPU, private memory) and stopped on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"  # the tests use 15
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scratch_database(server_url: str) -> contextlib.AbstractContextManager[str]:
    """A new, empty database next to `server_url`'s, dropped afterwards."""
    from backend.core.db import scratch_database as scratch

    return scratch(server_url, "homeroom_bench")


@dataclass(frozen=True)
class School:
    """The demo school's logins and the ids the scenarios need."""

    password: str
    admin: str
    teachers: list[str]
    parents: list[str]
    classes: dict[str, list[str]]  # class id -> its students' ids, for teacher1's and teacher2's classes
    class_teachers: dict[str, str]  # class id -> its teacher's email
    school_day: date  # the latest weekday up to today


def seed_demo_school(database_url: str, **settings: Any) -> School:
    """Migrate the database and create the demo school (`flask demo seed`) in it; `settings`
    (ENCRYPTION_KEY=..., say) go to the app that seeds."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from backend import create_app
    from backend.auth.models import User
    from backend.classes.models import Enrollment, SchoolClass
    from backend.config import settings_from
    from backend.core.db import dispose_pools
    from backend.core.extensions import db
    from backend.demo.seed import seed
    from backend.tenancy import platform_access

    app = create_app(
        settings_from(
            APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", LOG_FORMAT="json", **settings
        )
    )
    with app.app_context(), platform_access("bench seed"):
        upgrade()
        logins = seed(lambda _n: None)
        assert logins.password is not None
        classes: dict[str, list[str]] = {}
        teachers: dict[str, str] = {}
        for school_class, email in db.session.execute(
            select(SchoolClass, User.email).join(User, User.id == SchoolClass.teacher_id)
        ):
            ids = db.session.scalars(
                select(Enrollment.student_id).where(Enrollment.class_id == school_class.id)
            )
            classes[str(school_class.id)] = [str(i) for i in ids]
            teachers[str(school_class.id)] = email
    dispose_pools(app)
    day = date.today()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return School(logins.password, logins.admin, logins.teachers, logins.parents, classes, teachers, day)


def homeroom_env(database_url: str, redis_url: str | None, port: int, **extra: str) -> dict[str, str]:
    """A production configuration with fresh secrets; limits high enough not to refuse the load."""
    env = {
        **os.environ,
        "HOMEROOM_ENV_FILE": "",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_FORMAT": "json",
        "ACCESS_TOKEN_TTL_SECONDS": "3600",
        "RATE_LIMIT_DEFAULT": "1000000 per minute",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "REFRESH_RATE_LIMIT": "100000 per minute",
        "GUNICORN_DRAIN_SECONDS": "1",
        "CORS_ORIGINS": "https://app.bench.example.org",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@dataclass
class Server:
    """One Gunicorn master and its workers."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Connection": "close"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw.startswith((b"{", b"[")) else raw
        finally:
            connection.close()

    def login(self, email: str, password: str) -> str:
        status, body = self.request("POST", "/api/auth/login", {"email": email, "password": password})
        if status != 200:
            raise RuntimeError(f"{self.name}: sign-in as {email} answered {status}: {body}")
        token: str = body["access_token"]
        return token

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """CPU used so far by the master, its live workers and the workers it has reaped."""
        master = psutil.Process(self.process.pid).cpu_times()
        total = master.user + master.system + master.children_user + master.children_system
        for worker in self.workers():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = worker.cpu_times()
                total += times.user + times.system
        return total

    def private_mib(self) -> list[float]:
        """Each worker's private memory (USS: pages no other process shares), in MiB."""
        sizes = []
        for worker in self.workers():
            with contextlib.suppress(psutil.NoSuchProcess):
                sizes.append(worker.memory_full_info().uss / 2**20)
        return sorted(sizes)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_gunicorn(
    name: str,
    app: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    cwd: Path = ROOT,
    config: str = "gunicorn_config.py",
) -> Server:
    """Start Gunicorn and wait until /health answers."""
    port = int(env["PORT"])
    log_path = log_dir / f"{name.replace('/', '_').replace('@', '_')}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [GUNICORN, "--config", config, app], cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if server.request("GET", "/health", timeout=2)[0] == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer /health within {START_TIMEOUT:.0f} s")
