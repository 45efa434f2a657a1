"""The schema scan: the live database against the models, the migrations and the expected triggers.

`diffs` turns Alembic's `compare_metadata` (tables, columns, indexes, unique and foreign-key
constraints, type or nullability differences) into issues; the catalog queries here add what it
does not compare: the migration revision, check constraints, the audit triggers, foreign keys
without a supporting index, invalid indexes (PostgreSQL) and orphan rows (SQLite). Each issue has a
stable id, a severity, and either a safe fix (statements that cannot lose data) or a draft for a
human.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import CheckConstraint, Connection, MetaData, inspect, text

from backend.audit import TRIGGERS
from backend.core.db import code_heads, database_revisions, known_revisions
from backend.doctor.constraints import missing_check
from backend.doctor.diffs import model_differences
from backend.doctor.issues import SEVERITY_ORDER, Dialect, Issue, SafeFix, Severity


def scan(connection: Connection, metadata: MetaData) -> list[Issue]:
    """Every issue, most severe first (then by id)."""
    dialect: Dialect = "postgresql" if connection.dialect.name == "postgresql" else "sqlite"
    issues = list(_migrations(connection))
    issues += model_differences(connection, dialect, metadata)
    issues += _check_constraints(connection, dialect, metadata)
    issues += _triggers(connection, dialect)
    issues += _unindexed_foreign_keys(connection, metadata)
    if dialect == "postgresql":
        issues += _invalid_indexes(connection)
    else:
        issues += _sqlite_orphans(connection)
    unique = {issue.id: issue for issue in issues}
    return sorted(unique.values(), key=lambda i: (SEVERITY_ORDER[i.severity], i.id))


def _migrations(connection: Connection) -> Iterator[Issue]:
    current, heads = database_revisions(connection), code_heads()
    if current == heads:
        return
    config_heads = ", ".join(sorted(heads))
    details = {"current": sorted(current), "head": sorted(heads)}
    unknown = sorted(current - known_revisions())
    if unknown:
        yield Issue(
            "migrations:unknown_revision",
            "migrations",
            Severity.CRITICAL,
            None,
            f"The database is at revision {', '.join(unknown)}, which this code does not know "
            f"(its head is {config_heads}): it was migrated by another release.",
            details=details,
        )
        return
    yield Issue(
        "migrations:not_at_head",
        "migrations",
        Severity.CRITICAL,
        None,
        f"Migrations are not at head ({', '.join(sorted(current)) or 'none applied'} -> {config_heads}): "
        "run `flask db upgrade`.",
        details=details,
    )


def _check_constraints(connection: Connection, dialect: Dialect, metadata: MetaData) -> Iterator[Issue]:
    inspector = inspect(connection)
    present_tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint) and constraint.name not in found:
                yield missing_check(connection, dialect, table, constraint)


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
