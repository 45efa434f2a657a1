"""Alembic, seen from the app: the revisions in `migrations/` (`code_heads`, `known_revisions`),
the ones a database records (`database_revisions`), and how a database's schema is compared with
the models (`compare_options`: types compared, objects kept outside the models skipped;
`render_plain_types` for revision files that import no application code)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, String, TypeDecorator, column, inspect, select, table

from backend.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
VERSION_TABLE = "alembic_version"


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
