"""Claiming queued rows for one worker: the one pattern behind every background queue (the mail
outbox, the jobs table).

`claim_due` leases up to `limit` rows matching `due` to a worker and commits the lease before the
work starts: on PostgreSQL with `FOR UPDATE SKIP LOCKED` (replicas never wait on, or take, each
other's rows), on SQLite with a conditional update per row (one writer at a time). A worker that
dies leaves its rows to be claimed again once the lease (`claimed_until`) has passed, which the
caller's `due` condition admits.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update

from backend.core.extensions import db

R = TypeVar("R")


def claim_due(
    model: type[R], due: ColumnElement[bool], order_by: Any, lease: dict[str, Any], limit: int
) -> list[R]:
    """Up to `limit` rows of `model` matching `due`, in `order_by` order, each given the `lease`
    values; committed before they are returned."""
    table: Any = model
    candidates = select(model).where(due).order_by(order_by).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        rows = list(db.session.scalars(candidates.with_for_update(skip_locked=True)))
        for row in rows:
            for name, value in lease.items():
                setattr(row, name, value)
    else:
        ids = list(db.session.scalars(candidates.with_only_columns(table.id)))
        claimed = [
            row_id
            for row_id in ids
            if db.session.execute(update(model).where(table.id == row_id, due).values(**lease)).rowcount  # type: ignore[attr-defined]  # a DML result has rowcount
        ]
        claimed_rows = select(model).where(table.id.in_(claimed)).order_by(order_by)
        rows = list(db.session.scalars(claimed_rows)) if claimed else []
    db.session.commit()
    return rows
