"""A bad typed cell says what a school office needs to fix it (issue 29, item 6): the row, the
column, the value it got (shortened when long, invisible characters shown by their code) and the
form it expects. The CLI prints them as `row 3, date_of_birth: "31/12/2012" is not a date ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.core.extensions import db
from backend.schools.models import School
from tests.school import World
from tests.spreadsheets.conftest import HEADER, post_csv

STUDENT_GOOD = "M-1,Mia,Good,2015-01-01,5,2024-09-01"
GUARDIANS = "admission_number,email,full_name,relationship,is_primary,can_view_finance,can_view_health"
CLASSES = "term,name,subject,grade_level,teacher_email"
FLAG_FORM = "(expected true/false, yes/no, y/n, 1/0, or empty for no)"

# kind, header, a good row, the bad row (row 3), the column, the message
CASES = [
    pytest.param(
        "students",
        HEADER,
        STUDENT_GOOD,
        "M-2,Max,Bad,31/12/2012,5,2024-09-01",
        "date_of_birth",
        '"31/12/2012" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)',
        id="date",
    ),
    pytest.param(
        "students",
        HEADER,
        STUDENT_GOOD,
        "M-2,Max,Bad,2015-01-01,5,2024-02-30",
        "enrolled_on",
        '"2024-02-30" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)',
        id="no-such-day",
    ),
    pytest.param(
        "students",
        HEADER,
        STUDENT_GOOD,
        "M-2,Max,Bad,2015-01-01,five,2024-09-01",
        "grade_level",
        '"five" is not a whole number (expected digits only, e.g. 7)',
        id="integer",
    ),
    pytest.param(
        "students",
        HEADER,
        STUDENT_GOOD,
        "M-2,Max,Bad,2015-01-01,25,2024-09-01",
        "grade_level",
        '"25" is not a grade level (expected a whole number from 0 to 20)',
        id="grade-range",
    ),
    pytest.param(
        "classes",
        CLASSES,
        "Current term,5 Drama,Drama,5,",
        "Current term,5 Music,Music,5.5,",
        "grade_level",
        '"5.5" is not a whole number (expected digits only, e.g. 7)',
        id="integer-class",
    ),
    pytest.param(
        "students",
        HEADER + ",status,left_on",
        STUDENT_GOOD + ",,",
        "M-2,Max,Bad,2015-01-01,5,2024-09-01,left,2025-01-01",
        "status",
        '"left" is not a status (expected one of: active, withdrawn, graduated)',
        id="enum",
    ),
    pytest.param(
        "guardians",
        GUARDIANS,
        "A-002,good.parent@example.org,Gina Good,mother,yes,no,no",
        "A-001,bad.parent@example.org,Bert Bad,father,maybe,no,no",
        "is_primary",
        f'"maybe" is not yes or no {FLAG_FORM}',
        id="boolean",
    ),
    pytest.param(
        "guardians",
        GUARDIANS,
        "A-002,good.parent@example.org,Gina Good,mother,yes,no,no",
        "A-001,bert.example.org,Bert Bad,father,no,no,no",
        "email",
        '"bert.example.org" is not an email address (expected name@domain, e.g. parent@example.org)',
        id="email",
    ),
    pytest.param(
        "classes",
        CLASSES,
        "Current term,5 Drama,Drama,5,",
        "Current term,5 Music,Music,5,teacher@",
        "teacher_email",
        '"teacher@" is not an email address (expected name@domain, e.g. parent@example.org)',
        id="email-class",
    ),
]


def refused(world: World, kind: str, header: str, good: str, bad: str) -> list[dict[str, Any]]:
    response = post_csv(world, kind, "\r\n".join([header, good, bad]) + "\r\n", dry_run="true")
    assert response.status_code == 422, response.get_data(as_text=True)
    errors: list[dict[str, Any]] = response.get_json()["report"]["errors"]
    return errors


@pytest.mark.parametrize(("kind", "header", "good", "bad", "column", "message"), CASES)
def test_a_bad_typed_cell_names_its_row_column_value_and_form(
    world: World, kind: str, header: str, good: str, bad: str, column: str, message: str
) -> None:
    assert refused(world, kind, header, good, bad) == [{"row": 3, "column": column, "message": message}]


def test_a_long_value_is_shortened_in_the_message(world: World) -> None:
    long_value = "31/12/2012" + "x" * 300
    [error] = refused(world, "students", HEADER, STUDENT_GOOD, f"M-2,Max,Bad,{long_value},5,2024-09-01")
    assert (error["row"], error["column"]) == (3, "date_of_birth")
    assert error["message"].startswith('"31/12/2012xxxxxxxx')
    assert '…" is not a date (expected YYYY-MM-DD' in error["message"]
    assert "x" * 50 not in error["message"] and len(error["message"]) < 120


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('"2012-12\t-31"', "2012-12[U+0009]-31"),  # inside the value: the trim leaves it
        ('"2012\n12-31"', "2012[U+000A]12-31"),
        ("2012-12\u202e-31", "2012-12[U+202E]-31"),  # right-to-left override: would garble the line
    ],
)
def test_invisible_characters_are_shown_by_their_code(world: World, cell: str, shown: str) -> None:
    [error] = refused(world, "students", HEADER, STUDENT_GOOD, f"M-2,Max,Bad,{cell},5,2024-09-01")
    assert error["message"] == f'"{shown}" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)'


def test_every_problem_of_a_row_is_reported_each_with_its_own_value(world: World) -> None:
    errors = refused(world, "students", HEADER, STUDENT_GOOD, "M-2,Max,Bad,12.31.2012,ten,31 Aug 2024")
    assert errors == [
        {
            "row": 3,
            "column": "date_of_birth",
            "message": '"12.31.2012" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)',
        },
        {
            "row": 3,
            "column": "enrolled_on",
            "message": '"31 Aug 2024" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)',
        },
        {
            "row": 3,
            "column": "grade_level",
            "message": '"ten" is not a whole number (expected digits only, e.g. 7)',
        },
    ]


def test_a_missing_required_cell_says_so(world: World) -> None:
    [error] = refused(world, "students", HEADER, STUDENT_GOOD, "M-2,Max,Bad,,5,2024-09-01")
    assert error == {"row": 3, "column": "date_of_birth", "message": "Empty, but this column is required."}


def test_the_command_prints_row_column_value_and_form(world: World, tmp_path: Path) -> None:
    path = tmp_path / "students.csv"
    path.write_text("\r\n".join([HEADER, STUDENT_GOOD, "M-2,Max,Bad,31/12/2012,5,2024-09-01"]) + "\r\n")
    with world.app.app_context():
        slug = db.session.get_one(School, world.accounts["admin"].school_id).slug
    result = world.app.test_cli_runner().invoke(args=["import", "students", str(path), "--school", slug])
    assert result.exit_code == 1
    assert (
        'row 3, date_of_birth: "31/12/2012" is not a date (expected YYYY-MM-DD, e.g. 2012-12-31)'
        in result.output
    )
