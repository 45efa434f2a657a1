"""Constraints the models declare and the database lacks: unique, foreign-key and check constraints.

Each is added by a safe `ALTER TABLE ... ADD CONSTRAINT` unless existing rows would make that fail
(duplicates, orphans, violations: counted here) or SQLite would need a table rebuild; then it needs
review and the doctor drafts it instead. Orphan rows that block a foreign key are an issue of their
own, with the query that finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import CheckConstraint, Connection, ForeignKeyConstraint, Table, UniqueConstraint, text

from backend.doctor.issues import Dialect, Issue, SafeFix, Severity

_REBUILD = " (SQLite: a table rebuild)"


def _count(connection: Connection, query: str) -> int:
    return int(connection.execute(text(query)).scalar_one())


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _blocked(count: int, what: str, dialect: Dialect) -> str | None:
    """Why no safe fix (appended to the message), or None when the constraint can simply be added."""
    if count:
        return f" {count} {what}"
    return _REBUILD if dialect == "sqlite" else None


def _constraint_issue(
    kind: str,
    severity: Severity,
    table: str,
    name: object,
    message: str,
    *,
    definition: str,
    review: str | None,
    details: dict[str, Any],
) -> Issue:
    """`review` (the reason, appended to the message) makes it a draft; None, the safe ALTER TABLE."""
    issue_id = f"{kind}:{table}.{name}"
    if review is not None:
        return Issue(issue_id, kind, severity, table, message + review, needs_review=True, details=details)
    sql = f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
    return Issue(issue_id, kind, severity, table, message, fix=SafeFix((sql,)))


def missing_unique(connection: Connection, dialect: Dialect, constraint: UniqueConstraint) -> Iterator[Issue]:
    table_name, columns = constraint.table.name, [c.name for c in constraint.columns]
    duplicates = _count(
        connection,
        f'SELECT count(*) FROM (SELECT 1 FROM "{table_name}" GROUP BY {_columns(columns)} '  # noqa: S608 - names from the models
        f"HAVING count(*) > 1) AS d",
    )
    yield _constraint_issue(
        "missing_unique",
        Severity.CRITICAL,
        table_name,
        constraint.name,
        f"Unique constraint {constraint.name} on {table_name} ({', '.join(columns)}) is missing.",
        definition=f"UNIQUE ({_columns(columns)})",
        review=_blocked(duplicates, "duplicated value(s) block it.", dialect),
        details={"duplicates": duplicates},
    )


def missing_foreign_key(
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
    orphans = _count(connection, f"SELECT count(*) FROM ({finder}) AS o")  # noqa: S608 - as above
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
    on_delete = f" ON DELETE {constraint.ondelete}" if constraint.ondelete else ""
    references = f'REFERENCES "{parent}" ({_columns(parent_columns)}){on_delete}'
    yield _constraint_issue(
        "missing_foreign_key",
        Severity.CRITICAL,
        table_name,
        constraint.name,
        f"Foreign key {constraint.name} ({table_name}.{', '.join(columns)} -> {parent}) is missing.",
        definition=f"FOREIGN KEY ({_columns(columns)}) {references}",
        review="" if orphans or dialect == "sqlite" else None,  # the orphans issue says why
        details={"orphans": orphans},
    )


def missing_check(
    connection: Connection, dialect: Dialect, table: Table, constraint: CheckConstraint
) -> Issue:
    condition = str(constraint.sqltext)
    violations = _count(
        connection,
        f'SELECT count(*) FROM "{table.name}" WHERE NOT ({condition})',  # noqa: S608 - from the models
    )
    return _constraint_issue(
        "missing_check",
        Severity.WARNING,
        table.name,
        constraint.name,
        f"Check constraint {constraint.name} on {table.name} ({condition}) is missing.",
        definition=f"CHECK ({condition})",
        review=_blocked(violations, "row(s) violate it.", dialect),
        details={"violations": violations},
    )
