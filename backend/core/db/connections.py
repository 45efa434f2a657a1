"""PostgreSQL connections that cannot hang: libpq's own bounds (connecting, each statement, a dead
network path), a limit on every wait for the server (`BoundedConnection`), and pooled connections
checked before use only when they sat idle (`ping_when_idle`). A connection found dead raises
DisconnectionError, on which SQLAlchemy's pool connects afresh."""

from __future__ import annotations

import math
import select as readiness
import time
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from backend.core.context import time_left

RV = TypeVar("RV")


def pg_connect_args(
    connect_timeout: float, statement_timeout_ms: int, client_timeout: float
) -> dict[str, Any]:
    """libpq's own bounds: connecting, each statement (server side), and a dead network path —
    keepalive probes on an idle connection, and a limit on data sent but never acknowledged."""
    return {
        "connect_timeout": max(2, math.ceil(connect_timeout)),  # whole seconds; libpq treats < 2 as 2
        # A statement whose client has given up (a request past its deadline closes the connection)
        # is cancelled by the server within a second, not left running to its statement timeout.
        "options": f"-c statement_timeout={statement_timeout_ms} -c client_connection_check_interval=1000",
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
    row_scope: object = None  # the row scope last set on this connection (core/db/row_security.py)
    row_scope_pending: bool = False  # set inside a transaction, which may yet roll it back

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        limit = request_bounded(self.wait_timeout if timeout is None else timeout)
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:  # psycopg's own (an OperationalError) for an expired wait
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database server within {limit:g} s; connection closed"
            ) from None


# Once a request's deadline has passed, a wait still gets this long: enough for a server that
# answers, nothing much for one that does not.
LAST_WAIT_SECONDS = 0.25


def request_bounded(timeout: float | None) -> float | None:
    """`timeout`, shortened to what is left of the current deadline (a request's, if in one)."""
    left = time_left()
    if left is None:
        return timeout
    left = max(left, LAST_WAIT_SECONDS)
    return left if timeout is None else min(timeout, left)


class DeadlinePool(QueuePool):
    """SQLAlchemy's queue pool whose wait for a free connection also ends at the request's deadline."""

    @property  # QueuePool reads self._timeout on each checkout
    def _timeout(self) -> float:
        bounded = request_bounded(self._pool_timeout)
        return self._pool_timeout if bounded is None else bounded

    @_timeout.setter
    def _timeout(self, value: float) -> None:
        self._pool_timeout = value

    def recreate(self) -> QueuePool:
        fresh = super().recreate()
        fresh._timeout = self._pool_timeout  # not a request's remainder
        return fresh


def bound_waits(engine: Engine, wait_timeout: float) -> None:
    """Make the engine's PostgreSQL connections `BoundedConnection`s with this wait timeout."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> BoundedConnection:
        left = time_left()  # connecting, too, ends at the deadline (libpq: whole seconds, 2 at least)
        if left is not None and "connect_timeout" in cparams:
            cparams = {**cparams, "connect_timeout": max(2, min(cparams["connect_timeout"], math.ceil(left)))}
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
