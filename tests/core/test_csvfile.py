"""The one CSV writer and reader (core/csvfile.py): formula cells written behind an apostrophe and
read back as they were; control characters refused with their row and column."""

from __future__ import annotations

import csv
import io

import pytest

from backend.core.csvfile import FORMULA_START, CellError, read, write

STARTS = [*FORMULA_START, " =", "\u3000\uff1d", "'=", "''+"]


def _written(values: list[str]) -> list[str]:
    """The cells of the `name` column of a file `write` makes, as a spreadsheet reads them."""
    text = "".join(write(["n", "name"], ([n, value] for n, value in enumerate(values))))
    return [row["name"] for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))]


@pytest.mark.parametrize("start", STARTS, ids=[f"U+{ord(s[-1]):04X}-{len(s)}" for s in STARTS])
def test_a_cell_that_could_start_a_formula_is_written_behind_an_apostrophe(start: str) -> None:
    value = f"{start}1+2"
    assert _written([value]) == [f"'{value}"]


def test_our_apostrophe_is_read_off_again_and_a_cells_own_kept() -> None:
    values = [f"{start}1+2" for start in STARTS if not start[0].isspace()] + ["'quoted", "it's", "a-b"]
    text = "".join(write(["n", "name"], ([str(n), value] for n, value in enumerate(values))))
    table = read(text.encode(), ["n", "name"], ["name"])
    assert table.errors == []
    assert [cells["name"] for _row, cells in table.rows] == values


def test_plain_text_is_written_as_it_is() -> None:
    assert _written(["Alice", "O'Brien", "1+2", "a=b", ""]) == ["Alice", "O'Brien", "1+2", "a=b", ""]


def test_control_characters_are_errors_on_their_row_and_column() -> None:
    raw = b'n,name\r\n1,ok\r\n2,b\x00d\r\n3,\x1b[31m\r\n4,"tab\tand\r\nline"\r\n'
    table = read(raw, ["n", "name"], ["name"])
    assert [(row, cells["name"]) for row, cells in table.rows] == [(2, "ok"), (5, "tab\tand\r\nline")]
    assert [(e.row, e.column) for e in table.errors] == [(3, "name"), (4, "name")]
    assert "U+0000" in table.errors[0].message and "U+001B" in table.errors[1].message
    header = read(b"n,na\x00me\r\n1,x\r\n", ["n", "name"], ["name"])
    assert header.rows == [] and [(e.row, e.column) for e in header.errors] == [(1, "name")]
    assert isinstance(header.errors[0], CellError)
