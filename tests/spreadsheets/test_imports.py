"""CSV imports: dry runs, all-or-nothing, natural keys, the file's quirks, formula cells."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.core.extensions import db
from backend.students.models import Student
from tests.school import World
from tests.spreadsheets.conftest import HEADER, post_csv, students_csv


def student_count(app: Flask, school: Any) -> int:
    with app.app_context():
        return int(
            db.session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school))
        )


def test_two_thousand_students_dry_run_then_real_then_again(world: World) -> None:
    school = world.accounts["admin"].school_id
    before = student_count(world.app, school)
    text = students_csv(2000)
    dry = post_csv(world, "students", text, dry_run="true")
    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    assert (report["dry_run"], report["applied"], report["rows"], report["create"]) == (
        True,
        False,
        2000,
        2000,
    )
    assert student_count(world.app, school) == before
    real = post_csv(world, "students", text).get_json()
    assert (real["applied"], real["create"], real["update"], real["unchanged"]) == (True, 2000, 0, 0)
    assert student_count(world.app, school) == before + 2000
    again = post_csv(world, "students", text).get_json()
    assert (again["create"], again["update"], again["unchanged"]) == (0, 0, 2000)
    with world.app.app_context():
        imports = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "import.students", AuditEvent.school_id == school)
            .order_by(AuditEvent.seq)
        ).all()
        assert [e.changes["create"] for e in imports] == [2000, 0]  # type: ignore[index]
        assert imports[0].changes["checksum"] == real["checksum"]  # type: ignore[index]


def test_three_bad_rows_among_two_thousand_write_nothing(world: World) -> None:
    school = world.accounts["admin"].school_id
    before = student_count(world.app, school)
    bad = {
        10: "S-9010,Ten,Bad,not-a-date,5,2024-09-01",
        500: "S-9500,Five,Hundred,2015-01-01,99,2024-09-01",
        1999: "S-9999,,Nameless,2015-01-01,4,2024-09-01",
    }
    refused = post_csv(world, "students", students_csv(2000, bad=bad))
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["code"] == "import_invalid" and body["report"]["applied"] is False
    assert [(e["row"], e["column"]) for e in body["report"]["errors"]] == [
        (10, "date_of_birth"),
        (500, "grade_level"),
        (1999, "first_name"),
    ]
    assert student_count(world.app, school) == before


def test_dates_in_a_file_are_iso_calendar_dates_only(world: World) -> None:
    """Before, a cell of "0" was read as a Unix time (1970-01-01), and so was a midnight's."""
    bad = {
        2: "S-9001,Zero,Epoch,0,5,2024-09-01",
        3: "S-9002,Unix,Time,2015-01-01,5,1699920000",
        4: "S-9003,Compact,Date,20150101,5,2024-09-01",
    }
    refused = post_csv(world, "students", students_csv(3, bad=bad))
    assert refused.status_code == 422
    errors = refused.get_json()["report"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [
        (2, "date_of_birth"),
        (3, "enrolled_on"),
        (4, "date_of_birth"),
    ]
    assert all("YYYY-MM-DD" in e["message"] for e in errors)


def test_changes_are_updates_with_an_event_per_record(world: World) -> None:
    post_csv(world, "students", students_csv(3))
    changed = students_csv(3).replace("First2,", "Second,")
    report = post_csv(world, "students", changed).get_json()
    assert (report["create"], report["update"], report["unchanged"]) == (0, 1, 2)
    with world.app.app_context():
        school = world.accounts["admin"].school_id
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "student.update", AuditEvent.school_id == school)
        ).one()
        assert event.changes == {"first_name": {"before": "First2", "after": "Second"}}


def test_encodings_delimiters_and_quoted_newlines(world: World) -> None:
    semicolons = "\ufeff" + students_csv(2).replace(",", ";")
    report = post_csv(world, "students", semicolons.encode("utf-8")).get_json()
    assert report["create"] == 2
    header = "Admission Number,FIRST_NAME,last-name,Date Of Birth,grade_level"
    quoted = f'{header}\r\nQ-1,"Anne\nMarie",Quote,2015-01-01,5\r\nQ-2,Bo,Quote,2015-13-01,5\r\n'
    refused = post_csv(world, "students", quoted).get_json()
    assert [(e["row"], e["column"]) for e in refused["report"]["errors"]] == [(3, "date_of_birth")]
    latin = f"{HEADER}\nL-1,Zoë,Müller,2015-01-01,5,2024-09-01\n".encode("latin-1")
    assert (
        post_csv(world, "students", latin)
        .get_json()["report"]["errors"][0]["message"]
        .startswith("The file is not UTF-8")
    )
    assert (
        post_csv(world, "students", "").get_json()["report"]["errors"][0]["message"] == "The file is empty."
    )


def test_header_problems_and_duplicate_keys(world: World) -> None:
    unknown = post_csv(
        world, "students", HEADER + ",shoe_size\r\nS-1,A,B,2015-01-01,5,2024-09-01,40\r\n"
    ).get_json()
    assert unknown["report"]["errors"] == [{"row": 1, "column": "shoe_size", "message": "Unknown column."}]
    missing = post_csv(world, "students", "admission_number,first_name\r\nS-1,A\r\n").get_json()
    assert {e["column"] for e in missing["report"]["errors"]} == {"last_name", "date_of_birth", "grade_level"}
    twice = students_csv(3, bad={4: "S-0001,Again,Dup,2015-01-01,5,2024-09-01"})
    errors = post_csv(world, "students", twice).get_json()["report"]["errors"]
    assert errors == [{"row": 4, "column": "admission_number", "message": "The same record as row 2."}]
    short = post_csv(world, "students", HEADER + "\r\nS-1,A\r\n").get_json()["report"]["errors"]
    assert short[0]["row"] == 2 and "cells" in short[0]["message"]


def test_formula_cells_are_data(world: World) -> None:
    text = f'{HEADER}\r\nF-1,=HYPERLINK("http://x"),+Plus,2015-01-01,5,2024-09-01\r\n'
    assert post_csv(world, "students", text).get_json()["create"] == 1
    with world.app.app_context():
        student = db.session.scalars(select(Student).where(Student.admission_number == "F-1")).one()
        assert (student.first_name, student.last_name) == ('=HYPERLINK("http://x")', "+Plus")
    exported = world.client.get("/api/exports/students", headers=world.as_("admin")).get_data(as_text=True)
    assert '\'=HYPERLINK(""http://x"")' in exported and ",'+Plus," in exported
    assert post_csv(world, "students", exported).get_json()["unchanged"] >= 1  # and back unchanged


def test_who_may_import_and_how(world: World) -> None:
    assert post_csv(world, "students", students_csv(1), who="teacher").status_code == 403
    assert post_csv(world, "students", students_csv(1), who="anonymous").status_code == 401
    json_body = world.client.post("/api/imports/students", json={"rows": []}, headers=world.as_("admin"))
    assert json_body.status_code == 415
    assert post_csv(world, "teachers", students_csv(1)).status_code == 404


def test_the_command_line_import(world: World, tmp_path: Any) -> None:
    from backend.schools.models import School

    with world.app.app_context():
        slug = db.session.get_one(School, world.accounts["admin"].school_id).slug
    path = tmp_path / "students.csv"
    path.write_text(students_csv(5))
    runner = world.app.test_cli_runner()
    dry = runner.invoke(args=["import", "students", str(path), "--school", slug, "--dry-run"])
    assert dry.exit_code == 0 and "Would create 5" in dry.output
    done = runner.invoke(args=["import", "students", str(path), "--school", slug])
    assert done.exit_code == 0 and "Did create 5" in done.output
    path.write_text(students_csv(2, bad={3: "S-0002,B,C,2015-01-01,77,2024-09-01"}))
    refused = runner.invoke(args=["import", "students", str(path), "--school", slug])
    assert refused.exit_code == 1 and "row 3, grade_level" in refused.output
    assert runner.invoke(args=["import", "students", str(path), "--school", "nope"]).exit_code == 1
