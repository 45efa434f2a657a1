"""The app's engines as configured: the options for the request pool (`engine_options`), the
dialect set-up done once per engine (`configure_engine`: bounded PostgreSQL connections, SQLite's
pragmas and its file's folder), and the pool's figures for health and metrics (`pool_stats`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from backend.config import Settings, sqlite_file
from backend.core.db.connections import DeadlinePool, bound_waits, pg_connect_args, ping_when_idle
from backend.core.db.row_security import confine


def engine_options(settings: Settings) -> dict[str, Any]:
    """`SQLALCHEMY_ENGINE_OPTIONS` for the configured database."""
    url = make_url(settings.database_url)
    # Errors name the statement, never its values (names, emails), outside a local debug switch.
    hide_parameters = not settings.db_log_parameters
    if url.get_backend_name() == "sqlite":
        return {
            "connect_args": {"timeout": settings.db_busy_timeout_ms / 1000},
            "hide_parameters": hide_parameters,
        }
    return {
        "hide_parameters": hide_parameters,
        "poolclass": DeadlinePool,  # a wait for a free connection ends at the request's deadline
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        # No pre-ping on every checkout: `ping_when_idle` pings only connections that sat idle.
        "connect_args": pg_connect_args(
            settings.db_connect_timeout, settings.db_statement_timeout_ms, settings.db_client_timeout
        ),
    }


def configure_engine(
    engine: Engine,
    wait_timeout: float,
    ping_after_idle: float | None = None,
    app_role: str | None = None,
) -> None:
    """Dialect set-up done once per engine: for PostgreSQL bounded waits, pings of idle connections
    (when `ping_after_idle` is given) and row security as `app_role` (when given); for SQLite the
    pragmas and its file's folder."""
    if engine.dialect.name == "postgresql":
        bound_waits(engine, wait_timeout)
        if ping_after_idle is not None:
            ping_when_idle(engine, ping_after_idle)
        if app_role is not None:
            confine(engine, app_role)
        return
    if engine.dialect.name != "sqlite":
        return
    database_file = sqlite_file(engine.url)
    if database_file is not None:
        folder = database_file.parent

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
