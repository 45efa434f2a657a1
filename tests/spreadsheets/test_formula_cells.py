"""Formula neutralising in the CSV the API writes (issue 28, item 7): a cell a spreadsheet could
run as a formula starts with an apostrophe in every export, including the full-width forms of
= + - @, a pipe, a leading tab or carriage return, and a formula character after leading white
space. Our own apostrophe is taken off again on import, so the export imports back as it was."""

from __future__ import annotations

import csv
import io
import uuid

from sqlalchemy import select

from backend.core.extensions import db
from backend.students.models import Student
from tests.school import World
from tests.spreadsheets.conftest import post_csv

# Names a student may be given through the API (it trims white space), one per leading character.
TYPED = {
    "F-01": "=1+2",
    "F-02": "+1+2",
    "F-03": "-1+2",
    "F-04": "@SUM(A1)",
    "F-05": "|calc",
    "F-06": "\uff1d1+2",  # FULLWIDTH EQUALS SIGN
    "F-07": "\uff0b1+2",  # FULLWIDTH PLUS SIGN
    "F-08": "\uff0d1+2",  # FULLWIDTH HYPHEN-MINUS
    "F-09": "\uff20SUM(A1)",  # FULLWIDTH COMMERCIAL AT
    "F-10": "\uff5ccalc",  # FULLWIDTH VERTICAL LINE
    "F-11": "'=1+2",  # an apostrophe of the student's own, before a formula
}
# Names only older data or another writer can hold (the API trims them): exported neutralised.
STORED = {
    "F-21": "\t=1+2",
    "F-22": "\r=1+2",
    "F-23": " =1+2",
    "F-24": "\u3000\uff1d1+2",  # an ideographic space, then the full-width equals sign
}


def _student(number: str) -> dict[str, object]:
    return {
        "admission_number": number,
        "first_name": "Placeholder",
        "last_name": "Formula",
        "date_of_birth": "2015-06-01",
        "grade_level": 5,
    }


def _add(world: World, names: dict[str, str]) -> None:
    """Students with these first names: created through the API, then named in the database."""
    for number, name in names.items():
        created = world.post("admin", "/api/students", _student(number))
        with world.app.app_context():
            db.session.get_one(Student, uuid.UUID(created["id"])).first_name = name
            db.session.commit()


def _exported(world: World, who: str = "admin") -> tuple[bytes, dict[str, str]]:
    """The students export as sent, and each student's first_name cell as a spreadsheet reads it."""
    response = world.client.get("/api/exports/students", headers=world.as_(who))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    return raw, {row["admission_number"]: row["first_name"] for row in rows}


def test_every_formula_start_is_exported_behind_an_apostrophe(world: World) -> None:
    names = TYPED | STORED
    _add(world, names)
    _raw, cells = _exported(world)
    wrong = {number: cells[number] for number, name in names.items() if cells[number] != f"'{name}"}
    assert wrong == {}, sorted(wrong.items())
    assert cells["A-001"] == "Alice"  # plain text stays as it is


def test_an_export_imports_back_as_it_was(world: World) -> None:
    """Into the same school (nothing changes) and into another one (the same names arrive)."""
    _add(world, TYPED)
    raw, _cells = _exported(world)
    again = post_csv(world, "students", raw)
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["update"], again.get_json()["create"]) == (0, 0)
    moved = post_csv(world, "students", raw, who="other_school_admin")
    assert moved.status_code == 200, moved.get_json()
    with world.app.app_context():
        school = world.accounts["other_school_admin"].school_id
        arrived = {
            student.admission_number: student.first_name
            for student in db.session.scalars(
                select(Student).where(Student.school_id == school, Student.admission_number.in_(TYPED))
            )
        }
    assert arrived == TYPED
