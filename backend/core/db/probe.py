"""The readiness probe's own engine: one connection with short timeouts, apart from the request
pool, so `ping` and `migration_status` answer within HEALTH_CHECK_TIMEOUT even when the pool is
exhausted; and `dispose_pools`, which drops both the request pools' and the probe's connections."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from backend.config import SETTINGS_EXTENSION, Settings
from backend.core.db.connections import pg_connect_args
from backend.core.db.engine import configure_engine
from backend.core.db.migrations import code_heads, database_revisions
from backend.core.extensions import db

_PROBE_ENGINE = "homeroom.probe_engine"


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
            connect_args = pg_connect_args(timeout, int(timeout * 1000), timeout)
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=timeout,
            pool_pre_ping=True,
            connect_args=connect_args,
            hide_parameters=True,
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


def dispose_pools(app: Flask, *, close: bool = True) -> None:
    """Drop pooled connections; with `close=False` (after fork) the parent's stay untouched."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=close)
    probe: Engine | None = app.extensions.get(_PROBE_ENGINE)
    if probe is not None:
        probe.dispose(close=close)
