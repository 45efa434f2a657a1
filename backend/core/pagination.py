"""Keyset pagination: `?limit=` and an opaque `cursor`; cost does not grow with the page number."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import Field
from sqlalchemy import ColumnElement, Select, literal, tuple_

from backend.core.errors import ValidationFailed
from backend.core.validation import InputModel

T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class PageQuery(InputModel):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)


def _encode_value(value: Any) -> Any:
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _decode_value(raw: Any, column: ColumnElement[Any]) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(raw)
    if python_type is date:
        return date.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if not isinstance(raw, python_type):
        raise TypeError(raw)
    return raw


def encode_cursor(values: Sequence[Any]) -> str:
    payload = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError(cursor)
        return [_decode_value(value, column) for value, column in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error):
        raise ValidationFailed.on("query.cursor", "Invalid cursor.") from None


def keyset(
    statement: Select[Any],
    order_by: Sequence[ColumnElement[Any]],
    page: PageQuery,
    *,
    descending: bool = False,
) -> Select[Any]:
    """Order by `order_by` (ending in a unique column), start after the cursor, fetch one extra row."""
    if page.cursor:
        # Typed binds: the values go through each column's own type (UTC timestamps on SQLite, say).
        values = decode_cursor(page.cursor, order_by)
        after = tuple_(*(literal(value, column.type) for value, column in zip(values, order_by, strict=True)))
        statement = statement.where(tuple_(*order_by) < after if descending else tuple_(*order_by) > after)
    ordering = [column.desc() for column in order_by] if descending else list(order_by)
    return statement.order_by(*ordering).limit(page.limit + 1)


def page_of(
    rows: Sequence[T], page: PageQuery, key: Callable[[T], Sequence[Any]]
) -> tuple[list[T], str | None]:
    """The page's rows and the cursor for the next page (None on the last one)."""
    items = list(rows[: page.limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > page.limit else None
    return items, next_cursor
