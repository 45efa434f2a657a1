"""Engine options, SQLite pragmas, pool statistics, the readiness probe and migration status."""

from __future__ import annotations

import math
import select as readiness
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import psycopg
import structlog
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Flask
from psycopg.abc import PQGen
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    String,
    TypeDecorator,
    column,
    create_engine,
    event,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.pool import QueuePool

from backend.config import PROJECT_ROOT, SETTINGS_EXTENSION, Settings, normalise_database_url
from backend.core.errors import Conflict, is_unique_violation
from backend.core.extensions import db

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
P = ParamSpec("P")
R = TypeVar("R")
RV = TypeVar("RV")
log = structlog.get_logger("homeroom.db")
_PROBE_ENGINE = "homeroom.probe_engine"
VERSION_TABLE = "alembic_version"


def engine_options(settings: Settings) -> dict[str, Any]:
    """`SQLALCHEMY_ENGINE_OPTIONS` for the configured database."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": settings.db_busy_timeout_ms / 1000}}
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        # No pre-ping on every checkout: `ping_when_idle` pings only connections that sat idle.
        "connect_args": _pg_connect_args(
            settings.db_connect_timeout, settings.db_statement_timeout_ms, settings.db_client_timeout
        ),
    }


def _pg_connect_args(
    connect_timeout: float, statement_timeout_ms: int, client_timeout: float
) -> dict[str, Any]:
    """libpq's own bounds: connecting, each statement (server side), and a dead network path —
    keepalive probes on an idle connection, and a limit on data sent but never acknowledged."""
    return {
        "connect_timeout": max(2, math.ceil(connect_timeout)),  # whole seconds; libpq treats < 2 as 2
        "options": f"-c statement_timeout={statement_timeout_ms}",
        "application_name": "homeroom",
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": int(client_timeout * 1000),
    }


class BoundedConnection(psycopg.Connection[Any]):
    """psycopg's connection with an end to every wait on the server.

    Keepalives and the TCP user timeout notice a network that drops packets, but not a peer whose
    kernel keeps acknowledging while nothing answers (a stalled proxy, a frozen server). So every
    wait for the server (a query, a commit, a pre-ping) gives up after `wait_timeout` seconds: the
    connection is closed (its state is unknown) and the caller gets an OperationalError, which the
    pool treats as a disconnect and the API answers as a 503.
    """

    wait_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        try:
            return super().wait(gen, interval, self.wait_timeout if timeout is None else timeout)
        except psycopg.errors._WaitTimeout:  # psycopg's own (an OperationalError) for an expired wait
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database server within {self.wait_timeout:g} s; connection closed"
            ) from None


def bound_waits(engine: Engine, wait_timeout: float) -> None:
    """Make the engine's PostgreSQL connections `BoundedConnection`s with this wait timeout."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> BoundedConnection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_timeout = wait_timeout
        return connection


_LAST_CHECKIN = "homeroom_last_checkin"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat idle `idle_seconds` or more.

    SQLAlchemy's `pool_pre_ping` costs a round trip on every checkout. A connection used a moment
    ago is checked without one: if the server closed it (a restart, pg_terminate_backend), its
    socket has turned readable, which a zero-timeout poll sees. Either failing raises
    DisconnectionError, on which the pool connects afresh (SQLAlchemy's documented custom
    pessimistic handling). What neither sees (a path that died silently within the last few
    seconds) fails its query as a 503, bounded by DB_CLIENT_TIMEOUT, and the pool is renewed.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_CHECKIN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_CHECKIN)
        if last is None:
            return  # just connected
        if time.monotonic() - last < idle_seconds:
            if _closed_by_server(dbapi_connection):
                raise DisconnectionError("the server closed this pooled connection")
            return
        autocommit = dbapi_connection.autocommit
        try:
            dbapi_connection.autocommit = True  # no transaction left open by the ping
            dbapi_connection.execute("SELECT 1")
        except psycopg.Error as error:
            raise DisconnectionError(f"idle connection failed its ping: {type(error).__name__}") from error
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit


def _closed_by_server(dbapi_connection: Any) -> bool:
    """An idle connection has nothing to read unless the server said goodbye (an error, then EOF)."""
    if dbapi_connection.closed:
        return True
    fd = dbapi_connection.pgconn.socket
    if hasattr(readiness, "poll"):
        poller = readiness.poll()
        poller.register(fd, readiness.POLLIN)
        return bool(poller.poll(0))
    return bool(readiness.select([fd], [], [], 0)[0])  # Windows


def configure_engine(engine: Engine, wait_timeout: float, ping_after_idle: float | None = None) -> None:
    """Dialect set-up done once per engine: for PostgreSQL bounded waits and pings of idle
    connections (when `ping_after_idle` is given); for SQLite the pragmas and its file's folder."""
    if engine.dialect.name == "postgresql":
        bound_waits(engine, wait_timeout)
        if ping_after_idle is not None:
            ping_when_idle(engine, ping_after_idle)
        return
    if engine.dialect.name != "sqlite":
        return
    database = engine.url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).parent

        @event.listens_for(engine, "do_connect")
        def _ensure_folder(*_: Any) -> None:
            folder.mkdir(parents=True, exist_ok=True)

    event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def retry_on_conflict(service: Callable[P, R]) -> Callable[P, R]:
    """For idempotent upserts (create the row, or update it): when a concurrent request created the
    row first, the insert hits the unique key. Roll back and run once more: the row is now there,
    and the second run updates it. Any other error, or a second conflict, goes on up."""

    @wraps(service)
    def upsert(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            db.session.rollback()
            log.info("upsert_retried", service=service.__qualname__)
            return service(*args, **kwargs)

    return upsert


def commit_unique(conflict_message: str) -> None:
    """Commit; a unique-constraint violation (a race the service's own check lost) becomes a 409."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(conflict_message) from None


def pool_stats(engine: Engine) -> dict[str, int]:
    """Size, connections checked out and overflow in use, for health and metrics."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return {"size": 0, "checked_in": 0, "checked_out": 0, "overflow": 0}
    return {
        "size": pool.size(),
        "checked_in": pool.checkedin(),
        "checked_out": pool.checkedout(),
        "overflow": max(pool.overflow(), 0),
    }


def _probe_engine(app: Flask) -> Engine:
    """A one-connection engine with short timeouts, apart from the request pool.

    Readiness must answer within its own timeout even when the main pool is exhausted or
    a dead pooled connection would make the next checkout wait out the full connect timeout.
    """
    engine: Engine | None = app.extensions.get(_PROBE_ENGINE)
    if engine is None:
        settings: Settings = app.extensions[SETTINGS_EXTENSION]
        url: URL = make_url(settings.database_url)
        timeout = settings.health_check_timeout
        if url.get_backend_name() == "sqlite":
            connect_args: dict[str, Any] = {"timeout": timeout}
        else:
            connect_args = _pg_connect_args(timeout, int(timeout * 1000), timeout)
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=timeout,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        configure_engine(engine, wait_timeout=timeout)
        app.extensions[_PROBE_ENGINE] = engine
    return engine


def ping(app: Flask) -> None:
    """One round trip through the probe engine; raises the driver's error when unreachable."""
    with _probe_engine(app).connect() as connection:
        connection.execute(select(1))


def migration_status(app: Flask) -> dict[str, Any]:
    """Connect through the probe engine and compare the database's revision with the code's heads.

    Raises the driver's error when the database cannot be reached.
    """
    with _probe_engine(app).connect() as connection:
        current = database_revisions(connection)
    heads = code_heads()
    return {"current": sorted(current), "head": sorted(heads), "at_head": current == heads}


def database_revisions(connection: Connection) -> frozenset[str]:
    """The revisions recorded in `alembic_version`; empty for a database never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    query = select(column("version_num", String)).select_from(table(VERSION_TABLE))
    return frozenset(connection.execute(query).scalars())


@cache
def _scripts() -> ScriptDirectory:
    """The revisions in `migrations/` (read from disk once per process)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


@cache
def code_heads() -> frozenset[str]:
    """The head revisions of `migrations/`."""
    return frozenset(_scripts().get_heads())


@cache
def known_revisions() -> frozenset[str]:
    """Every revision in `migrations/`: a database at another one was migrated by other code."""
    return frozenset(revision.revision for revision in _scripts().walk_revisions())


def render_plain_types(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Alembic's renderer hook: write the app's own column types (UTC timestamps, encrypted text)
    as the plain types they store, so revision files import no application code."""
    if kind == "type" and isinstance(item, TypeDecorator) and type(item).__module__.startswith("backend."):
        return f"sa.{item.impl_instance!r}"
    return False


# Database objects a feature keeps outside the models (full-text search indexes, SQLite's FTS5
# tables and their triggers): its migration creates them, schema comparisons leave them alone.
OUTSIDE_MODELS = "homeroom.outside_models"


def keep_outside_models(metadata: MetaData, *names: str) -> None:
    """Declare objects the models do not describe (a table's FTS5 shadow tables, `name_*`, too)."""
    metadata.info.setdefault(OUTSIDE_MODELS, set()).update(names)


def outside_models(metadata: MetaData) -> frozenset[str]:
    return frozenset(metadata.info.get(OUTSIDE_MODELS, ()))


def compare_options(metadata: MetaData) -> dict[str, Any]:
    """Options for Alembic's comparison of the database with `metadata` (autogenerate, the drift
    test, the schema doctor): types compared, objects kept outside the models skipped."""
    kept = outside_models(metadata)

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        if name is None:
            return True
        if type_ == "table":
            return not any(name == kept_name or name.startswith(f"{kept_name}_") for kept_name in kept)
        return name not in kept

    return {"compare_type": True, "include_name": include_name}


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on `server_url`'s server for the block, dropped after it
    (connections still open are ended): for tests, benchmarks and checks that need a clean one."""
    server = normalise_database_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dispose_pools(app: Flask, *, close: bool = True) -> None:
    """Drop pooled connections; with `close=False` (after fork) the parent's stay untouched."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=close)
    probe: Engine | None = app.extensions.get(_PROBE_ENGINE)
    if probe is not None:
        probe.dispose(close=close)
