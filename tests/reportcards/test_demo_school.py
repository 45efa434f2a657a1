"""The demo school from grades to a published, emailed, downloadable report for every student of
its term: a teacher's comments, the admin publishing, each parent's email over real SMTP, the
parent's dashboard and PDF (read back with pdftotext and rendered with pdftoppm), the office's
CSV, and the command line's ZIP with its progress."""

from __future__ import annotations

import csv
import io
import re
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.reportcards.snapshot import percent_text, rate_text
from tests.conftest import bearer
from tests.mail.conftest import deliver
from tests.mail.smtp_server import SMTPServer
from tests.reportcards.helpers import flat, poppler, text_of

STUDENTS = 60


def _login(client: FlaskClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return bearer(response.get_json()["access_token"])


def _painted(png: bytes) -> bool:
    """Whether a PNG (8-bit RGB, as pdftoppm writes it) has a pixel that is not white."""
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(png[offset + 8 : offset + 8 + length])
        offset += 12 + length
    rows = zlib.decompress(b"".join(chunks))
    return any(byte < 200 for byte in rows)


@pytest.fixture
def demo(app: Flask) -> dict[str, Any]:
    seeded = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    password = re.search(r"Password for every demo login: (\S+)", seeded.output)
    assert password
    client = app.test_client()
    return {
        "client": client,
        "admin": _login(client, "admin@demo-school.example.org", password[1]),
        "teacher": _login(client, "teacher1@demo-school.example.org", password[1]),
        "parent": _login(client, "parent1@demo-school.example.org", password[1]),
    }


def test_the_demo_school_publishes_every_students_report_and_each_parent_gets_it(
    app: Flask,
    smtp: SMTPServer,
    demo: dict[str, Any],
    tmp_path: Path,
) -> None:
    client, admin, teacher, parent = demo["client"], demo["admin"], demo["teacher"], demo["parent"]
    [term] = client.get("/api/terms", headers=admin).get_json()["items"]
    # The teacher reads the class's results and writes a comment for every student.
    [maths] = client.get("/api/classes", headers=teacher).get_json()["items"]
    results = client.get(f"/api/classes/{maths['id']}/term-results", headers=teacher).get_json()
    assert results["scale_name"] == "Letters (A* to U)" and len(results["items"]) == STUDENTS // 2
    for item in results["items"]:
        written = client.put(
            f"/api/classes/{maths['id']}/report-comments/{item['student_id']}",
            json={"body": f"{item['first_name']} has worked well this term."},
            headers=teacher,
        )
        assert written.status_code == 200
    progress = client.get(f"/api/terms/{term['id']}/report-progress", headers=admin).get_json()
    written = {t["teacher_name"]: (t["written"], t["students"]) for t in progress["teachers"]}
    assert written == {"Teacher 1": (30, 30), "Teacher 2": (0, 30)}
    # The admin publishes the whole school.
    outcome = client.post(
        f"/api/terms/{term['id']}/report-cards/publish", json={"scope": "school"}, headers=admin
    ).get_json()
    assert (outcome["students"], outcome["published"], outcome["emails_queued"]) == (
        STUDENTS,
        STUDENTS,
        STUDENTS,
    )
    totals = deliver(app)
    assert totals.sent >= STUDENTS
    assert (
        len([m for m in smtp.received if "report for Current term is ready" in m.message["Subject"]])
        == STUDENTS
    )
    # A parent sees it on the dashboard and downloads the PDF; its numbers are the API's.
    [child] = client.get("/api/parent/dashboard", headers=parent).get_json()["children"]
    [card] = child["report_cards"]
    report = client.get(f"/api/report-cards/{card['id']}", headers=parent).get_json()["content"]
    download = client.get(f"/api/report-cards/{card['id']}/pdf", headers=parent)
    assert download.status_code == 200
    text = flat(text_of(download.data, tmp_path))
    [result] = report["classes"]
    for expected in (
        "Demo School",
        f"{report['first_name']} {report['last_name']}",
        report["admission_number"],
        result["class_name"],
        percent_text(result["average"]),
        result["grade"],
        rate_text(report["attendance"]["rate"]),
        "Page 1 of 1",
    ):
        assert expected in text, expected
    (tmp_path / "card.pdf").write_bytes(download.data)
    subprocess.run(
        [
            poppler("pdftoppm"),
            "-png",
            "-r",
            "40",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "card.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    [page] = list(tmp_path.glob("page*.png"))
    assert page.read_bytes().startswith(b"\x89PNG") and _painted(page.read_bytes())
    # The office's CSV has a row per student and class, the same numbers.
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/api/terms/{term['id']}/results.csv", headers=admin).data.decode("utf-8-sig")
            )
        )
    )
    assert len(rows) == STUDENTS
    [mine] = [row for row in rows if row["admission_number"] == report["admission_number"]]
    assert (mine["average"], mine["grade"]) == (str(result["average"]), result["grade"])
    # The command line writes every PDF into one ZIP, showing its progress.
    out = tmp_path / "reports.zip"
    run = app.test_cli_runner().invoke(
        args=["report-cards", "zip", term["id"], "--school", "demo-school", "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert f"{STUDENTS} reports written" in run.output and "Rendering reports" in run.output
    archive = zipfile.ZipFile(out)
    assert archive.testzip() is None and len(archive.namelist()) == STUDENTS
    assert not out.with_name("reports.zip.partial").exists()
