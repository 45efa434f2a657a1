"""The schema scan: the live database against the models, the migrations and the expected triggers.

Alembic's `compare_metadata` finds tables, columns, indexes, unique and foreign-key constraints
and type or nullability differences; catalog queries add what it does not compare: check
constraints, the audit triggers, foreign keys without a supporting index, orphan rows that would
block a missing foreign key, and invalid indexes (PostgreSQL). Each issue has a stable id, a
severity, and either a safe fix (statements that cannot lose data) or a draft for a human.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.schema import CreateIndex, CreateTable

from backend.audit import TRIGGERS
from backend.core.db import code_heads, compare_options, database_revisions, known_revisions


class Severity(StrEnum):
    CRITICAL = "critical"  # the app may misbehave or lose its guarantees
    WARNING = "warning"  # slower, or weaker than designed
    INFO = "info"  # worth knowing; nothing is wrong for the app


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class SafeFix:
    """Statements that only add what is missing. `transactional` is False for PostgreSQL's
    `CREATE INDEX CONCURRENTLY`, which cannot run inside a transaction."""

    statements: tuple[str, ...]
    transactional: bool = True


@dataclass(frozen=True)
class Issue:
    id: str
    kind: str
    severity: Severity
    table: str | None
    message: str
    fix: SafeFix | None = None
    # No fix is safe: the doctor writes a draft revision for a human to review instead.
    needs_review: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity.value,
            "table": self.table,
            "message": self.message,
            "fixable": self.fixable,
            "fix_sql": list(self.fix.statements) if self.fix else [],
            "needs_review": self.needs_review,
            "details": self.details,
        }


Dialect = Literal["postgresql", "sqlite"]


@contextmanager
def quiet_alembic() -> Iterator[None]:
    """Alembic narrates every comparison at INFO; a scan's findings are its issues, not those lines."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def scan(connection: Connection, metadata: MetaData) -> list[Issue]:
    """Every issue, most severe first (then by id)."""
    dialect: Dialect = "postgresql" if connection.dialect.name == "postgresql" else "sqlite"
    issues = list(_migrations(connection))
    with quiet_alembic():
        context = MigrationContext.configure(connection, opts=compare_options(metadata))
        diffs = compare_metadata(context, metadata)
    issues += _from_diffs(connection, dialect, _flatten(diffs), metadata)
    issues += _check_constraints(connection, dialect, metadata)
    issues += _triggers(connection, dialect)
    issues += _unindexed_foreign_keys(connection, metadata)
    if dialect == "postgresql":
        issues += _invalid_indexes(connection)
    else:
        issues += _sqlite_orphans(connection)
    unique = {issue.id: issue for issue in issues}
    return sorted(unique.values(), key=lambda i: (SEVERITY_ORDER[i.severity], i.id))


def _flatten(diffs: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """compare_metadata nests column modifications in lists; yield one tuple per difference."""
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def _migrations(connection: Connection) -> Iterator[Issue]:
    current, heads = database_revisions(connection), code_heads()
    if current == heads:
        return
    config_heads = ", ".join(sorted(heads))
    unknown = sorted(current - known_revisions())
    if unknown:
        yield Issue(
            "migrations:unknown_revision",
            "migrations",
            Severity.CRITICAL,
            None,
            f"The database is at revision {', '.join(unknown)}, which this code does not know "
            f"(its head is {config_heads}): it was migrated by another release.",
            details={"current": sorted(current), "head": sorted(heads)},
        )
        return
    yield Issue(
        "migrations:not_at_head",
        "migrations",
        Severity.CRITICAL,
        None,
        f"Migrations are not at head ({', '.join(sorted(current)) or 'none applied'} -> {config_heads}): "
        "run `flask db upgrade`.",
        details={"current": sorted(current), "head": sorted(heads)},
    )


def _create_index_sql(index: Index, dialect: Dialect, connection: Connection) -> SafeFix:
    statement = str(CreateIndex(index, if_not_exists=True).compile(dialect=connection.dialect))
    if dialect == "postgresql":
        return SafeFix(
            (
                statement.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1).replace(
                    "CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1
                ),
            ),
            transactional=False,
        )
    return SafeFix((statement,))


def _from_diffs(
    connection: Connection, dialect: Dialect, diffs: Iterable[tuple[Any, ...]], metadata: MetaData
) -> Iterator[Issue]:
    diffs = list(diffs)
    # A missing table's indexes are reported by Alembic too: they belong to the table's one fix.
    new_tables = {diff[1].name for diff in diffs if diff[0] == "add_table"}
    diffs = [
        diff
        for diff in diffs
        if not (diff[0] == "add_index" and diff[1].table is not None and diff[1].table.name in new_tables)
    ]
    for diff in diffs:
        kind = diff[0]
        if kind == "add_table":
            table: Table = metadata.tables.get(diff[1].name, diff[1])  # Alembic's copy has no indexes
            statements = [str(CreateTable(table, if_not_exists=True).compile(dialect=connection.dialect))]
            statements += [
                str(CreateIndex(index, if_not_exists=True).compile(dialect=connection.dialect))
                for index in sorted(table.indexes, key=lambda index: index.name or "")
            ]
            yield Issue(
                f"missing_table:{table.name}",
                "missing_table",
                Severity.CRITICAL,
                table.name,
                f"Table {table.name} is missing.",
                fix=SafeFix(tuple(statements)),
            )
        elif kind == "remove_table":
            yield _extra("table", diff[1].name, None, "Table")
        elif kind == "add_column":
            _schema, table_name, column = diff[1], diff[2], diff[3]
            yield Issue(
                f"missing_column:{table_name}.{column.name}",
                "missing_column",
                Severity.CRITICAL,
                table_name,
                f"Column {table_name}.{column.name} is missing.",
                needs_review=True,
            )
        elif kind == "remove_column":
            yield _extra("column", diff[2], diff[3].name, "Column")
        elif kind == "add_index":
            index: Index = diff[1]
            table_name = index.table.name if index.table is not None else None
            yield Issue(
                f"missing_index:{table_name}.{index.name}",
                "missing_index",
                Severity.CRITICAL if index.unique else Severity.WARNING,
                table_name,
                f"{'Unique index' if index.unique else 'Index'} {index.name} on {table_name} is missing.",
                fix=_create_index_sql(index, dialect, connection),
            )
        elif kind == "remove_index":
            index = diff[1]
            yield _extra("index", index.table.name if index.table is not None else None, index.name, "Index")
        elif kind == "add_constraint" and isinstance(diff[1], UniqueConstraint):
            yield from _missing_unique(connection, dialect, diff[1])
        elif kind == "remove_constraint":
            yield _extra("constraint", diff[1].table.name, diff[1].name, "Constraint")
        elif kind == "add_fk":
            yield from _missing_foreign_key(connection, dialect, diff[1])
        elif kind == "remove_fk":
            yield _extra("foreign_key", diff[1].table.name, diff[1].name, "Foreign key")
        elif kind in ("modify_type", "modify_nullable"):
            _schema, table_name, column_name = diff[1], diff[2], diff[3]
            existing, wanted = diff[-2], diff[-1]
            what = "type" if kind == "modify_type" else "nullability"
            shown = (
                (existing, wanted)
                if kind == "modify_type"
                else ("NULL" if existing else "NOT NULL", "NULL" if wanted else "NOT NULL")
            )
            yield Issue(
                f"{what}_mismatch:{table_name}.{column_name}",
                f"{what}_mismatch",
                Severity.WARNING,
                table_name,
                f"Column {table_name}.{column_name} is {shown[0]} in the database, {shown[1]} in the models "
                "(never changed automatically: a draft revision is written).",
                needs_review=True,
                details={"database": str(shown[0]), "models": str(shown[1])},
            )


def _extra(what: str, table: str | None, name: str | None, noun: str) -> Issue:
    """An object the database has and the models do not: reported, never dropped."""
    where = f"{table}.{name}" if name is not None else str(table)
    return Issue(
        f"extra_{what}:{where}",
        f"extra_{what}",
        Severity.INFO,
        table,
        f"{noun} {where} is not in the models (reported, never dropped).",
    )


def _violations(connection: Connection, query: str) -> int:
    return int(connection.execute(text(query)).scalar_one())


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _missing_unique(
    connection: Connection, dialect: Dialect, constraint: UniqueConstraint
) -> Iterator[Issue]:
    table_name, columns = constraint.table.name, [c.name for c in constraint.columns]
    duplicates = _violations(
        connection,
        f'SELECT count(*) FROM (SELECT 1 FROM "{table_name}" GROUP BY {_columns(columns)} '  # noqa: S608 - names from the models
        f"HAVING count(*) > 1) AS d",
    )
    issue_id = f"missing_unique:{table_name}.{constraint.name}"
    message = f"Unique constraint {constraint.name} on {table_name} ({', '.join(columns)}) is missing."
    if duplicates or dialect == "sqlite":
        reason = (
            f" {duplicates} duplicated value(s) block it." if duplicates else " (SQLite: a table rebuild)"
        )
        yield Issue(
            issue_id,
            "missing_unique",
            Severity.CRITICAL,
            table_name,
            message + reason,
            needs_review=True,
            details={"duplicates": duplicates},
        )
        return
    sql = f'ALTER TABLE "{table_name}" ADD CONSTRAINT "{constraint.name}" UNIQUE ({_columns(columns)})'
    yield Issue(issue_id, "missing_unique", Severity.CRITICAL, table_name, message, fix=SafeFix((sql,)))


def _missing_foreign_key(
    connection: Connection, dialect: Dialect, constraint: ForeignKeyConstraint
) -> Iterator[Issue]:
    table_name = constraint.table.name
    columns = [c.name for c in constraint.columns]
    parent = constraint.referred_table.name
    parent_columns = [element.column.name for element in constraint.elements]
    join = " AND ".join(f'c."{a}" = p."{b}"' for a, b in zip(columns, parent_columns, strict=True))
    present = " AND ".join(f'c."{a}" IS NOT NULL' for a in columns)
    finder = (
        f'SELECT c.* FROM "{table_name}" c WHERE {present} '  # noqa: S608 - names from the models
        f'AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE {join})'
    )
    orphans = _violations(connection, f"SELECT count(*) FROM ({finder}) AS o")  # noqa: S608 - as above
    issue_id = f"missing_foreign_key:{table_name}.{constraint.name}"
    message = f"Foreign key {constraint.name} ({table_name}.{', '.join(columns)} -> {parent}) is missing."
    if orphans:
        yield Issue(
            f"orphans:{table_name}.{constraint.name}",
            "orphans",
            Severity.WARNING,
            table_name,
            f"{orphans} row(s) of {table_name} point at no {parent} row: they block the foreign key "
            f"{constraint.name} (never deleted automatically: a draft revision is written).",
            needs_review=True,
            details={"rows": orphans, "parent": parent, "query": finder},
        )
    if orphans or dialect == "sqlite":
        yield Issue(
            issue_id,
            "missing_foreign_key",
            Severity.CRITICAL,
            table_name,
            message,
            needs_review=True,
            details={"orphans": orphans},
        )
        return
    on_delete = f" ON DELETE {constraint.ondelete}" if constraint.ondelete else ""
    sql = (
        f'ALTER TABLE "{table_name}" ADD CONSTRAINT "{constraint.name}" FOREIGN KEY ({_columns(columns)}) '
        f'REFERENCES "{parent}" ({_columns(parent_columns)}){on_delete}'
    )
    yield Issue(issue_id, "missing_foreign_key", Severity.CRITICAL, table_name, message, fix=SafeFix((sql,)))


def _check_constraints(connection: Connection, dialect: Dialect, metadata: MetaData) -> Iterator[Issue]:
    inspector = inspect(connection)
    present_tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint) or constraint.name in found:
                continue
            condition = str(constraint.sqltext)
            violations = _violations(
                connection,
                f'SELECT count(*) FROM "{table.name}" WHERE NOT ({condition})',  # noqa: S608 - from the models
            )
            issue_id = f"missing_check:{table.name}.{constraint.name}"
            message = f"Check constraint {constraint.name} on {table.name} ({condition}) is missing."
            if violations or dialect == "sqlite":
                reason = f" {violations} row(s) violate it." if violations else " (SQLite: a table rebuild)"
                yield Issue(
                    issue_id,
                    "missing_check",
                    Severity.WARNING,
                    table.name,
                    message + reason,
                    needs_review=True,
                    details={"violations": violations},
                )
                continue
            sql = f'ALTER TABLE "{table.name}" ADD CONSTRAINT "{constraint.name}" CHECK ({condition})'
            yield Issue(issue_id, "missing_check", Severity.WARNING, table.name, message, fix=SafeFix((sql,)))


def _present_triggers(connection: Connection, dialect: Dialect) -> set[str]:
    if dialect == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return set(connection.execute(text(query)).scalars())


def _triggers(connection: Connection, dialect: Dialect) -> Iterator[Issue]:
    present = _present_triggers(connection, dialect)
    tables = set(inspect(connection).get_table_names())
    for spec in TRIGGERS[dialect]:
        if spec.name in present or spec.table not in tables:
            continue
        yield Issue(
            f"missing_trigger:{spec.table}.{spec.name}",
            "missing_trigger",
            Severity.CRITICAL,
            spec.table,
            f"Trigger {spec.name} on {spec.table} is missing: {spec.purpose}",
            fix=SafeFix(spec.create),
        )


def _unindexed_foreign_keys(connection: Connection, metadata: MetaData) -> Iterator[Issue]:
    inspector = inspect(connection)
    present_tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        leading: list[list[str]] = [ix["column_names"] for ix in inspector.get_indexes(table.name)]  # type: ignore[misc]
        leading += [u["column_names"] for u in inspector.get_unique_constraints(table.name)]
        leading.append(inspector.get_pk_constraint(table.name)["constrained_columns"])
        for fk in table.foreign_key_constraints:
            columns = [c.name for c in fk.columns]
            if any(list(cols[: len(columns)]) == columns for cols in leading if cols):
                continue
            yield Issue(
                f"unindexed_foreign_key:{table.name}.{'_'.join(columns)}",
                "unindexed_foreign_key",
                Severity.INFO,
                table.name,
                f"Foreign key {table.name}.{', '.join(columns)} has no index starting with it: deleting "
                f"from {fk.referred_table.name} scans {table.name}. Add one in the models if that matters.",
            )


def _invalid_indexes(connection: Connection) -> Iterator[Issue]:
    rows = connection.execute(
        text(
            "SELECT c.relname AS index, t.relname AS table FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND n.nspname = current_schema()"
        )
    ).all()
    for index, table in rows:
        yield Issue(
            f"invalid_index:{table}.{index}",
            "invalid_index",
            Severity.WARNING,
            table,
            f"Index {index} on {table} is invalid (a concurrent build failed): queries do not use it.",
            fix=SafeFix((f'REINDEX INDEX CONCURRENTLY "{index}"',), transactional=False),
        )


def _sqlite_orphans(connection: Connection) -> Iterator[Issue]:
    """SQLite enforces foreign keys per connection: rows written with them off are found here."""
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk_id in connection.execute(text("PRAGMA foreign_key_check")).all():
        counts[(table, parent)] = counts.get((table, parent), 0) + 1
    for (table, parent), rows in sorted(counts.items()):
        yield Issue(
            f"orphans:{table}.{parent}",
            "orphans",
            Severity.WARNING,
            table,
            f"{rows} row(s) of {table} point at no {parent} row (never deleted automatically: "
            "a draft revision is written).",
            needs_review=True,
            details={"rows": rows, "parent": parent},
        )
