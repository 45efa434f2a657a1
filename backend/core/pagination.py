"""Keyset pagination: `?limit=` and an opaque `cursor`; cost does not grow with the page number."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ConfigDict, Field
from sqlalchemy import BigInteger, ColumnElement, Select, SmallInteger, literal, tuple_
from sqlalchemy.orm import QueryableAttribute

from backend.core.errors import ValidationFailed
from backend.core.validation import InputModel

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# What a list is ordered by: model attributes (`Student.last_name`) or column expressions.
OrderColumn = QueryableAttribute[Any] | ColumnElement[Any]


# Validating a `Page[Student]` as the declared `Page[StudentOut]` must check (and convert) its
# items, not pass the instance through as already valid: pydantic reads this config.
_REVALIDATE = ConfigDict(revalidate_instances="always")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The shape of every list: a page of items and the cursor of the next page (None at the end).

    Services return `Page[Student]`; routes declare `response=Page[StudentOut]`."""

    __pydantic_config__: ClassVar[ConfigDict] = _REVALIDATE
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Items(Generic[T]):
    """A short list that is never paginated (a student's guardians, a class's enrollments)."""

    __pydantic_config__: ClassVar[ConfigDict] = _REVALIDATE
    items: list[T]


class PageQuery(InputModel):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)


def _encode_value(value: Any) -> Any:
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _text(raw: Any) -> str:
    """Text a database can store: no NUL, no lone surrogate (JSON's `\\ud800` decodes to one)."""
    if not isinstance(raw, str) or "\x00" in raw:
        raise TypeError(raw)
    raw.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
    return raw


def _whole(raw: Any, column: ColumnElement[Any]) -> int:
    """An integer the column's type holds (bool is not an int here)."""
    bits = 16 if isinstance(column.type, SmallInteger) else 64 if isinstance(column.type, BigInteger) else 32
    if type(raw) is not int or not -(2 ** (bits - 1)) <= raw < 2 ** (bits - 1):
        raise TypeError(raw)
    return raw


def _decode_value(raw: Any, column: ColumnElement[Any]) -> Any:
    """One cursor value as the column's type; anything else (a tampered cursor) raises."""
    python_type = column.type.python_type
    if python_type is datetime:
        value = datetime.fromisoformat(_text(raw))
        if value.tzinfo is None:  # a date, or a time without its offset: not what was encoded
            raise ValueError(raw)
        return value.astimezone(UTC)  # OverflowError at the edges of the calendar
    if python_type is date:
        return date.fromisoformat(_text(raw))
    if python_type is uuid.UUID:
        return uuid.UUID(_text(raw))
    if python_type is str:
        return _text(raw)
    if python_type is int:
        return _whole(raw, column)
    raise TypeError(raw)


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def encode_cursor(values: Sequence[Any]) -> str:
    payload = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _column(column: OrderColumn) -> ColumnElement[Any]:
    return column.expression if isinstance(column, QueryableAttribute) else column


def decode_cursor(cursor: str, columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    try:
        raw = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), parse_constant=_no_constants
        )
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError(cursor)
        return [_decode_value(value, column) for value, column in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise ValidationFailed.on("query.cursor", "Invalid cursor.") from None


def keyset(
    statement: S,
    order: Sequence[OrderColumn],
    page: PageQuery,
    *,
    descending: bool = False,
) -> S:
    """Order by `order` (ending in a unique column), start after the cursor, fetch one extra row."""
    order_by = [_column(column) for column in order]
    if page.cursor:
        # Typed binds: the values go through each column's own type (UTC timestamps on SQLite, say).
        values = decode_cursor(page.cursor, order_by)
        after = tuple_(*(literal(value, column.type) for value, column in zip(values, order_by, strict=True)))
        statement = statement.where(tuple_(*order_by) < after if descending else tuple_(*order_by) > after)
    ordering = [column.desc() for column in order_by] if descending else list(order_by)
    return statement.order_by(*ordering).limit(page.limit + 1)


def page_of(rows: Sequence[T], page: PageQuery, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """The page's rows and the cursor for the next page (None on the last one)."""
    items = list(rows[: page.limit])
    return Page(items, encode_cursor(key(items[-1])) if len(rows) > page.limit else None)
