"""Shared fixtures: a fresh database per run, `app`, `client`, `db`, and log capture.

SQLite (a file in a temporary folder) by default; PostgreSQL when TEST_DATABASE_URL is set, in a
database created for this run and dropped after it. With TEST_REDIS_URL every test app caches and
rate-limits in that Redis database, which is emptied before each test. When TEST_DATABASE_URL or
TEST_REDIS_URL is set but unreachable the run stops with a failure: it never quietly falls back.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from backend import create_app
from backend.config import normalise_database_url, settings_from
from backend.core.db import dispose_pools
from backend.extensions import db as _db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)
# A port nothing listens on: connections are refused at once.
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:9/unreachable"

AppFactory = Callable[..., Flask]
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)")
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="runs in the SQLite pass")


def pytest_sessionstart(session: pytest.Session) -> None:
    problems = []
    if TEST_DATABASE_URL:
        try:
            url = normalise_database_url(TEST_DATABASE_URL)
            engine = create_engine(url, connect_args={"connect_timeout": 5})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
        except OperationalError as error:
            problems.append(f"TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {error.orig}")
    if TEST_REDIS_URL:
        try:
            redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            problems.append(f"TEST_REDIS_URL is set but Redis cannot be reached: {error}")
    if problems:
        pytest.exit("\n".join(problems), returncode=3)


@contextmanager
def temporary_database(folder: Path) -> Iterator[str]:
    """A database that exists only inside the block: a SQLite file, or a new PostgreSQL database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{folder / 'homeroom.db'}"
        return
    server = normalise_database_url(TEST_DATABASE_URL)
    name = f"homeroom_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The run's database."""
    with temporary_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty, never-migrated database for this test alone."""
    with temporary_database(tmp_path) as url:
        yield url


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Test apps use the run's database, and TEST_REDIS_URL's Redis when it is set."""
    return {"APP_ENV": "testing", "DATABASE_URL": database_url, "LOG_FORMAT": "json",
            "REDIS_URL": TEST_REDIS_URL, **overrides}


@pytest.fixture(autouse=True)
def _empty_test_redis() -> None:
    """Each test starts with an empty TEST_REDIS_URL database (use one reserved for tests)."""
    if TEST_REDIS_URL:
        redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=5).flushdb()


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> str:
    """The run's database upgraded to head once, through the same Alembic path as production."""
    app = create_app(settings_from(**base_config(database_url)))
    with app.app_context():
        upgrade()
    dispose_pools(app)
    return database_url


@pytest.fixture
def make_app(migrated_database: str) -> Iterator[AppFactory]:
    """Build apps on the migrated test database; keyword arguments are configuration variables."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config = base_config(migrated_database, **overrides)
        application = create_app(settings_from(**config))
        apps.append(application)
        return application

    yield factory
    for application in apps:
        dispose_pools(application)


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[SQLAlchemy]:
    """The database extension inside an app context; every table is emptied afterwards."""
    with app.app_context():
        yield _db
        _db.session.rollback()
        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(table.delete())
        _db.session.commit()
        _db.session.remove()


class RedisServer:
    """A redis-server of our own on a free 127.0.0.1 port, stopped and started again at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, decode_responses=True)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/test.sh installs it with apt-get)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill it outright, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """The JSON log lines written to stdout so far in this test (log format json)."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read
