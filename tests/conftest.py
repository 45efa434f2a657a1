"""Shared fixtures: a fresh database per run, `app`, `client`, `db`, and log capture.

SQLite (a file in a temporary folder) by default; PostgreSQL when TEST_DATABASE_URL is set, in a
database created for this run and dropped after it. With TEST_REDIS_URL every test app caches and
rate-limits in that Redis database, which is emptied before each test. When TEST_DATABASE_URL or
TEST_REDIS_URL is set but unreachable the run stops with a failure: it never quietly falls back.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from backend import create_app
from backend.auth.schemas import OperatorCreateIn, UserCreateIn
from backend.auth.user_service import create_operator, create_user
from backend.config import normalise_database_url, settings_from
from backend.core.context import RowScope
from backend.core.db import ambient_scope, dispose_pools, scratch_database
from backend.core.extensions import db as _db
from backend.schools.service import create_school
from backend.tenancy import Role

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)
# A port nothing listens on: connections are refused at once.
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:9/unreachable"

AppFactory = Callable[..., Flask]
T = TypeVar("T")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)")
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="runs in the SQLite pass")


# Stand-ins that log every step of every conversation at INFO: aiosmtpd (`mail.log`: each
# connection, command and reply; `mail.debug`). Their own threads write some of those lines after
# the test that caused them has ended (a client's connection closing late), while pytest is not
# capturing, so they landed among the progress dots. Only their warnings and errors are news.
QUIET_STAND_INS = ("mail.log", "mail.debug")


def pytest_configure(config: pytest.Config) -> None:
    for name in QUIET_STAND_INS:  # the app's configure_logging() leaves these loggers alone
        logging.getLogger(name).setLevel(logging.WARNING)


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
    with scratch_database(TEST_DATABASE_URL, "homeroom_test") as url:
        yield url


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


# argon2 at its cheapest: the tests exercise the logic, not the cost (production: 19 MiB, t=2, p=1, OWASP).
# One signing key for every test app of the run, so that a token from one is good at another.
RUN_JWT_KEY = secrets.token_urlsafe(48)
RUN_ENCRYPTION_KEY = Fernet.generate_key().decode()
FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_KIB": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Test apps use the run's database, and TEST_REDIS_URL's Redis when it is set."""
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "json",
        "REDIS_URL": TEST_REDIS_URL,
        "JWT_SECRET_KEY": RUN_JWT_KEY,
        "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
        # Tests read a dependency's state as it is now; the report's caching has tests of its own
        # (tests/probes/test_report_cache.py).
        "HEALTH_REPORT_MAX_AGE_SECONDS": 0,
        **FAST_HASHING,
        **overrides,
    }


# The audit trail is append-only in the database (its triggers refuse early deletes) and its
# policy row comes from the migration: it stays. Tests look only at their own schools' events.
KEPT_TABLES = frozenset({"audit_events", "audit_chain_heads", "audit_policy"})


def empty_tables(database_url: str) -> None:
    """Delete every row the test wrote, children first (the audit trail excepted)."""
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.begin() as connection:
            for table in reversed(_db.metadata.sorted_tables):
                if table.name not in KEPT_TABLES:
                    connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _tests_are_a_platform_task() -> Iterator[None]:
    """Outside requests (making schools and users, checking rows) a test is a named platform task,
    as a CLI command is; requests run under their caller's row scope, as in production."""
    with ambient_scope(RowScope(platform="tests")):
        yield


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
    if apps:
        empty_tables(migrated_database)


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[SQLAlchemy]:
    """The database extension inside an app context (tables are emptied when the app goes)."""
    with app.app_context():
        yield _db
        _db.session.rollback()
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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


# --- schools, users and signing in ------------------------------------------------------------

PASSWORD = "correct-horse-battery-7"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Account:
    user_id: uuid.UUID
    school_id: uuid.UUID
    email: str
    role: str
    password: str = PASSWORD


def make_school(
    app: Flask, slug: str | None = None, timezone: str = "Europe/London", currency: str = "GBP"
) -> uuid.UUID:
    slug = slug or f"school-{next(_serial)}"
    with app.app_context():
        return create_school(f"School {slug}", slug, timezone, currency).id


def make_user(
    app: Flask,
    school_id: uuid.UUID,
    role: str = "admin",
    *,
    email: str | None = None,
    password: str = PASSWORD,
    full_name: str | None = None,
) -> Account:
    email = email or f"{role}{next(_serial)}@example.org"
    data = UserCreateIn(
        email=email, full_name=full_name or f"Test {role.title()}", role=Role(role), password=password
    )
    with app.app_context():
        user = create_user(school_id, data)
        return Account(user.id, school_id, user.email, user.role, password)


def make_operator(app: Flask, *, email: str | None = None, password: str = PASSWORD) -> Account:
    """A platform operator (no school: `school_id` is the nil UUID in the returned account)."""
    email = email or f"operator{next(_serial)}@example.org"
    data = OperatorCreateIn(email=email, full_name="Test Operator", password=password)
    with app.app_context():
        user = create_operator(data)
        return Account(user.id, uuid.UUID(int=0), user.email, user.role, password)


def login(client: FlaskClient, account: Account, **extra: Any) -> dict[str, Any]:
    """Sign in through the API; the JSON body (access token, user)."""
    credentials = {"email": account.email, "password": account.password, **extra}
    response = client.post("/api/auth/login", json=credentials)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_headers(client: FlaskClient, account: Account) -> dict[str, str]:
    return bearer(login(client, account)["access_token"])


def count_statements(app: Flask, action: Callable[[], T]) -> tuple[int, T]:
    """How many SQL statements `action` sends to the app's database, and what it returned."""
    with app.app_context():
        engine = _db.engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen), result
