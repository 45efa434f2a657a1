"""CSV in and out, the way spreadsheets write and read it.

Reading: UTF-8 with or without a byte-order mark; comma or semicolon, whichever the header line
uses; header names matched case-insensitively (spaces and dashes as underscores); quoted fields
may hold newlines. An unknown or repeated column, or a missing required one, is an error on row 1.
Writing: the same columns, and any cell a spreadsheet would run as a formula (starting with
= + - @, a tab or a carriage return) is written with a leading apostrophe; reading strips that
apostrophe again, so an export imports back unchanged. Nothing read is ever evaluated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 2000


@dataclass(frozen=True)
class CellError:
    row: int  # 1 is the header line; data rows start at 2
    column: str | None
    message: str


@dataclass(frozen=True)
class Table:
    rows: list[tuple[int, dict[str, str]]]  # (row number, column -> text) for each non-empty row
    errors: list[CellError]


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _cell(value: str) -> str:
    value = value.strip()
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]  # our own neutralised formula cell, back as it was
    return value


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _delimiter(text: str) -> str:
    """Semicolon when the header line has more semicolons than commas (some locales), else comma."""
    header_line = text.split("\n", 1)[0]
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read(raw: bytes, known: Iterable[str], required: Iterable[str]) -> Table:
    """The rows of a CSV file, or the errors that make it unreadable as a whole."""
    text = _text(raw)
    if text is None:
        return Table([], [CellError(1, None, "The file is not UTF-8 text (save it as CSV UTF-8).")])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header = _header(reader)
    if isinstance(header, CellError):
        return Table([], [header])
    errors = _header_errors(header, set(known), list(required))
    if errors:
        return Table([], errors)
    return _body(reader, header)


def _header(reader: Iterator[list[str]]) -> list[str] | CellError:
    """The first line's column names, normalised; or why there is no header line."""
    try:
        return [_column(name) for name in next(reader)]
    except StopIteration:
        return CellError(1, None, "The file is empty.")
    except csv.Error as error:
        return CellError(1, None, f"Not a CSV file: {error}.")


def _body(reader: Iterator[list[str]], header: list[str]) -> Table:
    """The rows after the header; blank ones skipped, a malformed one an error on its row."""
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[CellError] = []
    number = 1  # spreadsheet rows: a quoted newline does not start a new one
    try:
        for cells in reader:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue
            problem = _row_error(number, header, cells)
            if problem is not None:
                errors.append(problem)
                continue
            rows.append((number, {name: _cell(cell) for name, cell in zip(header, cells, strict=True)}))
    except csv.Error as error:
        errors.append(CellError(number + 1, None, f"Not readable as CSV: {error}."))
    return Table(rows, errors)


def _row_error(number: int, header: list[str], cells: list[str]) -> CellError | None:
    """What makes a non-blank row unreadable: the wrong number of cells, or a cell too long."""
    if len(cells) != len(header):
        return CellError(number, None, f"Has {len(cells)} cells; the header has {len(header)}.")
    too_long = [name for name, cell in zip(header, cells, strict=True) if len(cell) > MAX_CELL]
    if too_long:
        return CellError(number, too_long[0], f"Longer than {MAX_CELL} characters.")
    return None


def _header_errors(header: list[str], known: set[str], required: list[str]) -> list[CellError]:
    errors = [CellError(1, name, "Unknown column.") for name in header if name not in known]
    errors += [
        CellError(1, name, "Repeated column.") for name in sorted({n for n in header if header.count(n) > 1})
    ]
    errors += [CellError(1, name, "Required column missing.") for name in required if name not in header]
    return errors


def safe(value: object) -> str:
    """A cell as text, neutralised if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def write(columns: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text, a chunk per row (for streaming), with a BOM so spreadsheets read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe(value) for value in row])
        yield buffer.getvalue()


def response(filename: str, columns: list[str], rows: Iterable[Iterable[object]]) -> Response:
    """A CSV download, streamed.

    The first row is read here, before there is a status: a query that fails at once (the
    database is down) is the usual problem (503), never a 200 with only the header. A failure
    after that ends the stream without its last chunk, so the client sees the download was cut,
    and the access line says so (`core/http.py`). The rows are closed with the response, however
    it ends (finished, cut, abandoned by the client, or a HEAD request that never reads them)."""
    pending = iter(rows)
    first = list(islice(pending, 1))
    download = Response(
        stream_with_context(write(columns, chain(first, pending))),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.csv"',
            "Cache-Control": "no-store",
        },
    )
    close = getattr(pending, "close", None)
    if close is not None:
        download.call_on_close(close)
    return download
