"""The ORM session class: reads outside a transaction, so a GET costs one round trip per query.

A request that only reads (GET or HEAD, unless its view is marked `@writes`) runs its queries on
the same pooled connections in autocommit mode (PostgreSQL): no BEGIN before the first query and no
ROLLBACK after the last. PostgreSQL's default isolation (read committed) gives each statement its
own snapshot either way, so what a read sees does not change. Such a request may not write: a
flush or an INSERT/UPDATE/DELETE raises, naming the view to mark, instead of committing statement
by statement.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import flask_sqlalchemy.session
from flask import request
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession

from backend.core.context import maybe_request_context


def reads_only() -> bool:
    context = maybe_request_context()
    return context is not None and context.reads_only


class ReadOnlyRequestWrites(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"{request.method} {request.endpoint} writes to the database: mark its view @writes "
            "so that it runs in a transaction"
        )


_AUTOCOMMIT: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def _autocommit(engine: Engine) -> Engine:
    """The engine's autocommit twin: the same pool, connections switched per checkout (kept while
    the engine lives)."""
    twin = _AUTOCOMMIT.get(engine)
    if twin is None:
        twin = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return twin


class RequestSession(flask_sqlalchemy.session.Session):
    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: Engine | Connection | None = None,
        **kwargs: Any,
    ) -> Engine | Connection:
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if (
            bind is None
            and isinstance(engine, Engine)
            and engine.dialect.name == "postgresql"
            and reads_only()
        ):
            return _autocommit(engine)
        return engine


@event.listens_for(RequestSession, "before_flush")
def _no_flush_when_reading(session: OrmSession, _context: Any, _instances: Any) -> None:
    if reads_only() and (session.new or session.dirty or session.deleted):
        raise ReadOnlyRequestWrites


@event.listens_for(RequestSession, "do_orm_execute")
def _no_dml_when_reading(state: ORMExecuteState) -> None:
    if reads_only() and (state.is_insert or state.is_update or state.is_delete):
        raise ReadOnlyRequestWrites
