"""CSV in and out, the way spreadsheets write and read it.

Reading: UTF-8 with or without a byte-order mark; comma or semicolon, whichever the header line
uses; header names matched case-insensitively (spaces and dashes as underscores); quoted fields
may hold newlines. An unknown or repeated column, or a missing required one, is an error on row 1.
A cell or header that holds a control character other than tab, line feed and carriage return
(a NUL byte, an escape, ...: Unicode's "Cc" characters) is an error on its row and column: no
database stores a NUL in text, and none of them belongs in a name.
Writing: the same columns, and any cell a spreadsheet could run as a formula is written with a
leading apostrophe: one that starts with = + - @ | (or their full-width forms), a tab or a
carriage return, also after leading white space; and one that starts with apostrophes before
such a character, so that ours can be told from the cell's own. Reading takes exactly that
apostrophe off again, so an export imports back unchanged. Nothing read is ever evaluated.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice

from flask import Response, stream_with_context

from backend.core.validation import trim

# What a spreadsheet may run as a formula when a cell starts with it (OWASP's list, the pipe of DDE,
# and the full-width forms some spreadsheets read as the ASCII ones).
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\uff5c")
# Control characters (Unicode "Cc": C0, DEL, C1) that no cell may hold: all but tab, LF and CR.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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


def _formula(text: str) -> bool:
    """Whether `safe` puts an apostrophe before `text`: it could start a formula, at once, after
    white space, or after apostrophes of its own (so that a cell's own apostrophe survives)."""
    bare = text.lstrip("'")
    return bare.startswith(FORMULA_START) or bare.lstrip().startswith(FORMULA_START)


def _cell(value: str) -> str:
    value = trim(value)
    if value.startswith("'") and _formula(value[1:]):
        return value[1:]  # our own neutralised formula cell, back as it was
    return value


def _control_error(row: int, column: str | None, text: str) -> CellError | None:
    """The error for a cell (or header) that holds a control character, if it does."""
    found = CONTROL.search(text)
    if found is None:
        return None
    return CellError(
        row,
        column,
        f"Holds the control character U+{ord(found.group()):04X}; "
        "a cell may hold text, tabs and line breaks only.",
    )


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
    names = _header(reader)
    if isinstance(names, CellError):
        return Table([], [names])
    errors = _header_errors(names, set(known), list(required))
    if errors:
        return Table([], errors)
    return _body(reader, [_column(name) for name in names])


def _header(reader: Iterator[list[str]]) -> list[str] | CellError:
    """The first line's column names, as written; or why there is no header line."""
    try:
        return next(reader)
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
            if not any(trim(cell) for cell in cells):
                continue
            problems = _row_errors(number, header, cells)
            if problems:
                errors += problems
                continue
            rows.append((number, {name: _cell(cell) for name, cell in zip(header, cells, strict=True)}))
    except csv.Error as error:
        errors.append(CellError(number + 1, None, f"Not readable as CSV: {error}."))
    return Table(rows, errors)


def _row_errors(number: int, header: list[str], cells: list[str]) -> list[CellError]:
    """What makes a non-blank row unreadable: the wrong number of cells, a cell too long, a cell
    holding a control character."""
    if len(cells) != len(header):
        return [CellError(number, None, f"Has {len(cells)} cells; the header has {len(header)}.")]
    errors = []
    for name, cell in zip(header, cells, strict=True):
        problem = (
            CellError(number, name, f"Longer than {MAX_CELL} characters.")
            if len(cell) > MAX_CELL
            else _control_error(number, name, cell)
        )
        if problem is not None:
            errors.append(problem)
    return errors


def _header_errors(names: list[str], known: set[str], required: list[str]) -> list[CellError]:
    """Problems of the header line (row 1): a control character in a name (the column named
    without it), else an unknown or repeated column, or a missing required one."""
    controls = [_control_error(1, _column(CONTROL.sub("", name)) or None, name) for name in names]
    if any(controls):
        return [error for error in controls if error is not None]
    header = [_column(name) for name in names]
    errors = [CellError(1, name, "Unknown column.") for name in header if name not in known]
    errors += [
        CellError(1, name, "Repeated column.") for name in sorted({n for n in header if header.count(n) > 1})
    ]
    errors += [CellError(1, name, "Required column missing.") for name in required if name not in header]
    return errors


def safe(value: object) -> str:
    """A cell as text, neutralised if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if _formula(text) else text


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
