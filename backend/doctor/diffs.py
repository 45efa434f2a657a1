"""What Alembic's `compare_metadata` reports, as issues: one small handler per kind of difference.

Missing tables and indexes get a safe fix (they only add); missing unique and foreign-key
constraints are judged in `constraints`; missing columns and changed types or nullability need
review; objects the database has and the models do not are reported and never dropped. This module
also keeps Alembic quiet while it compares (the drafts use that too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Index, MetaData, Table, UniqueConstraint
from sqlalchemy.schema import CreateIndex, CreateTable, ExecutableDDLElement

from backend.core.db import compare_options
from backend.doctor.constraints import missing_foreign_key, missing_unique
from backend.doctor.issues import Dialect, Issue, SafeFix, Severity

Diff = tuple[Any, ...]


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


@dataclass(frozen=True)
class _Scan:
    connection: Connection
    dialect: Dialect
    metadata: MetaData

    def sql(self, element: ExecutableDDLElement) -> str:
        return str(element.compile(dialect=self.connection.dialect))


def model_differences(connection: Connection, dialect: Dialect, metadata: MetaData) -> Iterator[Issue]:
    """Every difference Alembic finds between the database and `metadata`, as issues."""
    with quiet_alembic():
        context = MigrationContext.configure(connection, opts=compare_options(metadata))
        diffs = _without_new_tables_indexes(_flatten(compare_metadata(context, metadata)))
    scan = _Scan(connection, dialect, metadata)
    for diff in diffs:
        handler = _HANDLERS.get(diff[0])
        if handler is not None:
            yield from handler(scan, diff)


def _flatten(diffs: Iterable[Any]) -> Iterator[Diff]:
    """compare_metadata nests column modifications in lists; yield one tuple per difference."""
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def _without_new_tables_indexes(diffs: Iterable[Diff]) -> list[Diff]:
    """A missing table's indexes are reported by Alembic too: they belong to the table's one fix."""
    found = list(diffs)
    new_tables = {diff[1].name for diff in found if diff[0] == "add_table"}
    return [diff for diff in found if not (diff[0] == "add_index" and _table_of(diff[1]) in new_tables)]


def _table_of(index: Index) -> str | None:
    return index.table.name if index.table is not None else None


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


def _missing_table(scan: _Scan, diff: Diff) -> Iterator[Issue]:
    reported: Table = diff[1]
    table = scan.metadata.tables.get(reported.name, reported)  # Alembic's copy has no indexes
    statements = [scan.sql(CreateTable(table, if_not_exists=True))]
    statements += [
        scan.sql(CreateIndex(index, if_not_exists=True))
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


def _missing_column(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    table_name, column = diff[2], diff[3]
    yield Issue(
        f"missing_column:{table_name}.{column.name}",
        "missing_column",
        Severity.CRITICAL,
        table_name,
        f"Column {table_name}.{column.name} is missing.",
        needs_review=True,
    )


def _create_index(scan: _Scan, index: Index) -> SafeFix:
    statement = scan.sql(CreateIndex(index, if_not_exists=True))
    if scan.dialect != "postgresql":
        return SafeFix((statement,))
    concurrently = statement.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1).replace(
        "CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1
    )
    return SafeFix((concurrently,), transactional=False)


def _missing_index(scan: _Scan, diff: Diff) -> Iterator[Issue]:
    index: Index = diff[1]
    table_name = _table_of(index)
    yield Issue(
        f"missing_index:{table_name}.{index.name}",
        "missing_index",
        Severity.CRITICAL if index.unique else Severity.WARNING,
        table_name,
        f"{'Unique index' if index.unique else 'Index'} {index.name} on {table_name} is missing.",
        fix=_create_index(scan, index),
    )


def _missing_constraint(scan: _Scan, diff: Diff) -> Iterator[Issue]:
    if isinstance(diff[1], UniqueConstraint):  # Alembic compares no other kind here
        yield from missing_unique(scan.connection, scan.dialect, diff[1])


def _missing_foreign_key(scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield from missing_foreign_key(scan.connection, scan.dialect, diff[1])


def _mismatch(diff: Diff, what: str, database: object, models: object) -> Issue:
    table_name, column_name = diff[2], diff[3]
    return Issue(
        f"{what}_mismatch:{table_name}.{column_name}",
        f"{what}_mismatch",
        Severity.WARNING,
        table_name,
        f"Column {table_name}.{column_name} is {database} in the database, {models} in the models "
        "(never changed automatically: a draft revision is written).",
        needs_review=True,
        details={"database": str(database), "models": str(models)},
    )


def _type_mismatch(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _mismatch(diff, "type", diff[-2], diff[-1])


def _nullable(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def _nullability_mismatch(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _mismatch(diff, "nullability", _nullable(diff[-2]), _nullable(diff[-1]))


def _extra_table(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _extra("table", diff[1].name, None, "Table")


def _extra_column(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _extra("column", diff[2], diff[3].name, "Column")


def _extra_index(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _extra("index", _table_of(diff[1]), diff[1].name, "Index")


def _extra_constraint(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _extra("constraint", diff[1].table.name, diff[1].name, "Constraint")


def _extra_foreign_key(_scan: _Scan, diff: Diff) -> Iterator[Issue]:
    yield _extra("foreign_key", diff[1].table.name, diff[1].name, "Foreign key")


# compare_metadata's first element names the difference; a kind not listed here is not reported.
_HANDLERS: dict[str, Callable[[_Scan, Diff], Iterator[Issue]]] = {
    "add_table": _missing_table,
    "remove_table": _extra_table,
    "add_column": _missing_column,
    "remove_column": _extra_column,
    "add_index": _missing_index,
    "remove_index": _extra_index,
    "add_constraint": _missing_constraint,
    "remove_constraint": _extra_constraint,
    "add_fk": _missing_foreign_key,
    "remove_fk": _extra_foreign_key,
    "modify_type": _type_mismatch,
    "modify_nullable": _nullability_mismatch,
}
