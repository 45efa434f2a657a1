"""The database beyond the ORM session, imported from `backend.core.db` (not from its modules):
engine: the request pool's options, per-engine dialect set-up, pool figures; connections:
PostgreSQL connections that cannot hang (libpq bounds, bounded waits, pings of idle connections);
probe: the readiness probe's own engine, `ping`, `migration_status`, `dispose_pools`; row_security:
PostgreSQL's row-level security (each statement under the caller's school, a named platform task,
or no rows; the policy and role statements the migrations run); migrations:
revisions in the code and in a database, schema comparison options; conflicts: unique-key races
(retry an upsert, or answer 409); leases: claiming queued rows for one worker (SKIP LOCKED);
scratch: throw-away PostgreSQL databases."""

from __future__ import annotations

from backend.core.db.conflicts import commit_unique, retry_on_conflict
from backend.core.db.connections import BoundedConnection, DeadlinePool, bound_waits, ping_when_idle
from backend.core.db.engine import configure_engine, engine_options, pool_stats
from backend.core.db.leases import claim_due
from backend.core.db.migrations import (
    MIGRATIONS_DIR,
    OUTSIDE_MODELS,
    VERSION_TABLE,
    code_heads,
    compare_options,
    database_revisions,
    keep_outside_models,
    known_revisions,
    outside_models,
    render_plain_types,
)
from backend.core.db.probe import dispose_pools, migration_status, ping
from backend.core.db.row_security import (
    ambient_scope,
    app_role_sql,
    confine,
    current_scope,
    decide_request_scope_with,
    disable_sql,
    enable_sql,
    running_under,
)
from backend.core.db.scratch import scratch_database

__all__ = [
    "MIGRATIONS_DIR",
    "OUTSIDE_MODELS",
    "VERSION_TABLE",
    "BoundedConnection",
    "DeadlinePool",
    "ambient_scope",
    "app_role_sql",
    "bound_waits",
    "claim_due",
    "code_heads",
    "commit_unique",
    "compare_options",
    "configure_engine",
    "confine",
    "current_scope",
    "database_revisions",
    "decide_request_scope_with",
    "disable_sql",
    "dispose_pools",
    "enable_sql",
    "engine_options",
    "keep_outside_models",
    "known_revisions",
    "migration_status",
    "outside_models",
    "ping",
    "ping_when_idle",
    "pool_stats",
    "render_plain_types",
    "retry_on_conflict",
    "running_under",
    "scratch_database",
]
