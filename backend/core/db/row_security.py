"""Row-level security on PostgreSQL: the database itself keeps each school's rows to that school.

Every tenant-owned table has a policy (migration 0013, `enable_sql`) that admits a row only when
its `school_id` is the connection's `app.school_id`, or while the connection runs a named
platform-wide task (`app.platform`). The app's connections act as DB_APP_ROLE, a role that owns
nothing and cannot bypass row security; the schema owner (the URL's user) runs the migrations.

Which scope a statement runs under is decided when it runs (`current_scope`): inside a request
by `backend.tenancy` (the caller's school; an operator's platform work; no rows before sign-in),
outside one by the task a CLI command or a test named (`ambient_scope`), else no rows at all.
`confine(engine)` sets it before each statement when the connection's scope differs from the one
it last had: one `SELECT set_config(...)` round trip when a pooled connection changes hands
between schools, none while it serves the same one. SQLite has no row security: there the
application's scoping (`backend.tenancy`) is the only one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event

from backend.core.context import NO_ROWS, RowScope, maybe_request_context

_AMBIENT: ContextVar[RowScope] = ContextVar("homeroom_row_scope", default=NO_ROWS)
ScopeOfRequest = Callable[[], RowScope]
_request_scope: list[ScopeOfRequest] = [lambda: NO_ROWS]


def decide_request_scope_with(decide: ScopeOfRequest) -> None:
    """Register who decides a request's scope from its caller (`backend.tenancy` does, on import)."""
    _request_scope[0] = decide


def current_scope() -> RowScope:
    """The scope the next statement runs under."""
    context = maybe_request_context()
    if context is None:
        return _AMBIENT.get()
    if context.row_scope_override is not None:
        return context.row_scope_override
    return _request_scope[0]()


@contextmanager
def ambient_scope(scope: RowScope) -> Iterator[None]:
    """Outside a request: statements in the block run under `scope` (a command's named task)."""
    token = _AMBIENT.set(scope)
    try:
        yield
    finally:
        _AMBIENT.reset(token)


@contextmanager
def running_under(scope: RowScope) -> Iterator[None]:
    """Statements in the block run under `scope`, inside a request or outside one."""
    context = maybe_request_context()
    if context is None:
        with ambient_scope(scope):
            yield
        return
    previous, context.row_scope_override = context.row_scope_override, scope
    try:
        yield
    finally:
        context.row_scope_override = previous


_APPLY = (
    "SELECT set_config('role', %s, false), set_config('app.school_id', %s, false),"
    " set_config('app.platform', %s, false)"
)


def _apply(dbapi_connection: Any, scope: RowScope, app_role: str) -> None:
    values = ("none" if scope.owner else app_role, scope.school_id, scope.platform)
    if dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
        # Between transactions: set for the session, so that what follows cannot roll it back.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(_APPLY, values)
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit
        dbapi_connection.row_scope_pending = False
    else:
        # The scope changed while a transaction was open: it holds for the transaction; after it
        # (committed or not) it is set again before the next statement (see `_settled`).
        dbapi_connection.execute(_APPLY, values)
        dbapi_connection.row_scope_pending = True
    dbapi_connection.row_scope = scope


def confine(engine: Engine, app_role: str) -> None:
    """Run every statement of this PostgreSQL engine as `app_role`, under the current scope."""

    @event.listens_for(engine, "before_cursor_execute")
    def _scope(conn: Any, _cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        scope = current_scope()
        if getattr(dbapi_connection, "row_scope", None) != scope:
            _apply(dbapi_connection, scope, app_role)

    # A scope set inside a transaction is known only once the transaction is over: SQLAlchemy's
    # "commit" event comes before the COMMIT (which may fail), a rollback (to a savepoint too) takes
    # it back. Either way it is set again before the next statement.
    @event.listens_for(engine, "commit")
    def _committed(conn: Connection) -> None:
        _settled(_live(conn))

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Connection) -> None:
        _settled(_live(conn))

    @event.listens_for(engine, "rollback_savepoint")
    def _rolled_back_to_savepoint(conn: Connection, _name: Any, _context: Any) -> None:
        _settled(_live(conn))

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        _settled(dbapi_connection)


def _live(conn: Connection) -> Any:
    """The driver's connection behind `conn`, or None once it is invalidated (a new one follows)."""
    return None if conn.invalidated or conn.closed else conn.connection.dbapi_connection


def _settled(dbapi_connection: Any) -> None:
    """A scope set inside a transaction may be gone with it: set it again before the next statement."""
    if getattr(dbapi_connection, "row_scope_pending", False):
        dbapi_connection.row_scope = None
        dbapi_connection.row_scope_pending = False


# -- The schema side: what migration 0013 (and any later tenant table's migration) runs --------------

POLICY = "school_rows"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_ADMITS = (
    "school_id = NULLIF(current_setting('app.school_id', true), '')::uuid"
    " OR COALESCE(current_setting('app.platform', true), '') <> ''"
)


def enable_sql(table: str) -> list[str]:
    """The statements that put `table` (with a `school_id` column) under row security."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING ({_ADMITS}) WITH CHECK ({_ADMITS})",
    ]


def disable_sql(table: str) -> list[str]:
    return [f"DROP POLICY IF EXISTS {POLICY} ON {table}", f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]


def app_role_sql(role: str) -> list[str]:
    """Create the app's role if it is missing (it owns nothing, cannot log in or bypass row
    security), let the schema owner act as it, and grant it the data but not the schema."""
    if not _IDENTIFIER.fullmatch(role):
        raise ValueError("DB_APP_ROLE must be a lower-case SQL identifier")
    return [
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            END IF;
            IF current_setting('server_version_num')::int >= 160000 THEN
                -- PostgreSQL 16+: a role's creator holds it with ADMIN only; SET ROLE needs SET.
                IF NOT pg_has_role(current_user, '{role}', 'SET') THEN
                    EXECUTE format('GRANT {role} TO %I WITH SET TRUE', current_user);
                END IF;
            ELSIF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                EXECUTE format('GRANT {role} TO %I', current_user);
            END IF;
        END $$""",  # noqa: S608 - `role` is a plain identifier (checked above)
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        # Prove it here, not at the app's first statement: the owner can act as the role.
        f"SET LOCAL ROLE {role}",
        "RESET ROLE",
    ]
