"""Re-encrypt every encrypted column under the first key, in batches: resumable and idempotent.

Values the first key already reads are left alone, so a second run changes nothing and an
interrupted run picks up where it stopped. Each batch commits on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Column, Table, Text, func, select, type_coerce, update

from backend.core.crypto import ENCRYPTED_TYPES, rotate_token, under_primary_key
from backend.core.extensions import db


@dataclass(frozen=True)
class EncryptedTable:
    table: Table
    columns: tuple[Column[str], ...]


@dataclass
class RotationReport:
    rows: int = 0
    rotated: int = 0


def encrypted_tables() -> Iterator[EncryptedTable]:
    for table in db.metadata.sorted_tables:
        columns = tuple(c for c in table.columns if isinstance(c.type, ENCRYPTED_TYPES))
        if columns:
            yield EncryptedTable(table, columns)


def rows_to_check() -> int:
    return sum(db.session.scalar(select(func.count()).select_from(t.table)) or 0 for t in encrypted_tables())


def _rotate_batch(target: EncryptedTable, after: object, size: int, report: RotationReport) -> object | None:
    table = target.table
    raw = [type_coerce(column, Text).label(column.name) for column in target.columns]
    statement = select(table.c.id, *raw).order_by(table.c.id).limit(size)
    if after is not None:
        statement = statement.where(table.c.id > after)
    rows = db.session.execute(statement).all()
    for row in rows:
        values = {
            column.name: type_coerce(rotate_token(token), Text)
            for column in target.columns
            if (token := getattr(row, column.name)) is not None and not under_primary_key(token)
        }
        if values:
            db.session.execute(update(table).where(table.c.id == row.id).values(values))
            report.rotated += len(values)
    db.session.commit()
    report.rows += len(rows)
    return rows[-1].id if rows else None


def rotate_all(progress: Callable[[int], None], batch_size: int = 500) -> RotationReport:
    report = RotationReport()
    for target in encrypted_tables():
        last = None
        while True:
            before = report.rows
            last = _rotate_batch(target, last, batch_size, report)
            progress(report.rows - before)
            if last is None:
                break
    return report
