"""Control characters in an uploaded CSV (issue 28, 1a): a NUL byte used to reach the database,
a 500 on PostgreSQL (it refuses NUL in text) and stored as is on SQLite. Now the one CSV reader
refuses any cell or header holding a control character (Unicode "Cc": C0, DEL, C1) other than
tab, line feed and carriage return: a 422 naming the row and the column, and nothing written, on
both engines."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.auth.models import User
from backend.classes import Enrollment
from backend.core.extensions import db
from backend.mail.models import OutboxMessage
from backend.students import GuardianLink
from backend.students.models import Student
from tests.school import World
from tests.spreadsheets.conftest import HEADER, post_csv

# Per kind: the header, a good row, and a row whose `column` gets the control character.
FILES = {
    "students": (
        HEADER,
        "C-1,Carla,Clean,2015-01-01,5,2024-09-01",
        "C-2,Nina,Ba{x}ker,2015-01-01,5,2024-09-01",
        "last_name",
    ),
    "guardians": (
        "admission_number,email,full_name,relationship,is_primary,can_view_finance,can_view_health",
        "A-002,clean.parent@example.org,Clara Clean,mother,yes,no,no",
        "A-001,nul.parent@example.org,Nora{x} Nul,aunt,no,no,no",
        "full_name",
    ),
    "enrollments": (
        "admission_number,term,class_name",
        "A-001,Current term,5 Art",
        "A-002,Current term,5 Ma{x}ths",
        "class_name",
    ),
}
TABLES = (Student, GuardianLink, Enrollment, User, AuditEvent, OutboxMessage)


def written(app: Flask) -> dict[str, int]:
    """How many rows each table an import may write to holds."""
    with app.app_context():
        return {
            table.__tablename__: int(db.session.scalar(select(func.count()).select_from(table)) or 0)
            for table in TABLES
        }


def refused(world: World, kind: str, text: str) -> list[dict[str, Any]]:
    """Post `text`; it must be refused with a 422 and change nothing. Its errors."""
    before = written(world.app)
    response = post_csv(world, kind, text)
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "import_invalid" and body["report"]["applied"] is False
    assert written(world.app) == before
    return list(body["report"]["errors"])


@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_nul_in_a_cell_is_a_422_naming_its_row_and_column(world: World, kind: str) -> None:
    header, good, bad, column = FILES[kind]
    text = "\r\n".join([header, good, bad.format(x="\x00")]) + "\r\n"
    [error] = refused(world, kind, text)
    assert (error["row"], error["column"]) == (3, column)
    assert "control character" in error["message"] and "U+0000" in error["message"]


@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_nul_in_the_header_is_a_422_on_row_1(world: World, kind: str) -> None:
    header, good, _bad, _column = FILES[kind]
    columns = header.split(",")
    named = columns[2]
    columns[2] = f"{named[:3]}\x00{named[3:]}"
    errors = refused(world, kind, "\r\n".join([",".join(columns), good]) + "\r\n")
    assert (errors[0]["row"], errors[0]["column"]) == (1, named)
    assert "control character" in errors[0]["message"]


@pytest.mark.parametrize(
    "character", ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9b"]
)
def test_other_control_characters_are_refused_the_same_way(world: World, character: str) -> None:
    header, good, bad, column = FILES["students"]
    text = "\r\n".join([header, good, bad.format(x=character)]) + "\r\n"
    [error] = refused(world, "students", text)
    assert (error["row"], error["column"]) == (3, column)
    assert f"U+{ord(character):04X}" in error["message"]


def test_tabs_and_newlines_inside_cells_are_still_text(world: World) -> None:
    header, _good, _bad, _column = FILES["students"]
    text = f'{header}\r\nT-1,"Anne\tMarie","Two\r\nLines",2015-01-01,5,2024-09-01\r\n'
    response = post_csv(world, "students", text)
    assert response.status_code == 200, response.get_json()
    with world.app.app_context():
        student = db.session.scalars(select(Student).where(Student.admission_number == "T-1")).one()
        assert (student.first_name, student.last_name) == ("Anne\tMarie", "Two\r\nLines")
