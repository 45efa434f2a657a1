"""Report cards in a large school: publishing a whole term, reading results, the office's CSV, the
streamed ZIP of every PDF and one PDF, as the admin through the HTTP API (in-process).

    .venv/bin/python bench/report_cards.py [--students 2000] [--classes-per-student 6]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--[no-]analyze]
        [--no-trace] [--profile]

Builds the demo school (`backend.demo.seed`) in a scratch database (SQLite in a temporary folder,
or, with --database-url naming a PostgreSQL server, a `homeroom_bench_<random>` database created
on it, migrated with Alembic and dropped at the end), then grows it to `--students` students in
classes of 30: each student in `--classes-per-student` classes of the demo term (subjects cycling,
the two demo teachers alternately), each class with 4 published assessments of varied weights and
a grade for each student in each (some missing, some exempt), 10 school days of attendance in one
class per student, a class comment and an overall comment per student, and a guardian (a parent
account and its link) per student. Rows are inserted in batches; progress goes to stderr. Then
ANALYZE on PostgreSQL (autovacuum would, a minute after such a load), not on SQLite (the app never
does); `--analyze`/`--no-analyze` choose.

Then it measures, printing a Markdown table: the school-wide publish (time, SQL statements, the
answer) and a second publish with nothing changed; one class's term results; the CSV of the
term's results; the ZIP of every report, read chunk by chunk (time, bytes, mean time per PDF, and
in a second download the Python heap's peak with tracemalloc against the ZIP's size: about 10x
slower, `--no-trace` skips it); one PDF (median of 20). A request that fails ends the figures with
its status. SQL statements are counted as `tests/conftest.py: count_statements` does, and
include the request's own (authentication, row scope), shown as the baseline of `GET /api/auth/me`.
`--profile` runs the first publish under cProfile and prints its hotspots to stderr.
Bounded in count; no network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import platform
import pstats
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # type: ignore[import-untyped]  # no stubs installed
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine

from backend import create_app
from backend.attendance import AttendanceRecord
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term
from backend.config import settings_from
from backend.core.db import dispose_pools, scratch_database
from backend.core.extensions import db
from backend.demo.seed import FIRST, LAST, SLUG, STATUS_WEIGHTS, seed
from backend.grades import Assessment, Grade, GradeStatus
from backend.reportcards.models import ReportComment
from backend.schools import School
from backend.students import GuardianLink, Student
from backend.tenancy import Role, owner_access, platform_access

T = TypeVar("T")
FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_KIB": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}
RELAXED = {
    "RATE_LIMIT_DEFAULT": "1000000 per minute",
    "LOGIN_RATE_LIMIT": "100000 per minute",
    "ACCESS_TOKEN_TTL_SECONDS": 3600,
}
ADMIN = "admin@demo-school.example.org"
SUBJECTS = ("Maths", "English", "Science", "History", "Geography", "Art")
CLASS_SIZE = 30
# (weight, max score) of each class's four published assessments.
ASSESSMENTS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("1"), Decimal(50)),
    (Decimal("2.5"), Decimal(100)),
    (Decimal("0.5"), Decimal(20)),
    (Decimal("4"), Decimal(40)),
)
MISSING, EXEMPT = 0.04, 0.03  # shares of the grades marked missing and exempt
ATTENDANCE_DAYS = 10  # school days of attendance, in one class per student
BATCH = 5000  # rows per INSERT (executemany)
PDF_REPEAT = 20
COMMENT = (
    "{first} has worked steadily this term and takes part readily in discussion. Next step: check "
    "answers carefully & show the working — <b>not</b> just the result. Très bien!"
)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- building the school ---------------------------------------------------------------------------


@dataclass
class Demo:
    """The demo school's ids the growth needs."""

    school_id: uuid.UUID
    term_id: uuid.UUID
    term_starts_on: date
    admin_id: uuid.UUID
    teacher_ids: list[uuid.UUID]
    password_hash: str
    students: int


@dataclass
class Grown:
    students: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    attendance: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)


def _demo() -> Demo:
    school = db.session.scalar(select(School).where(School.slug == SLUG))
    assert school is not None
    term = db.session.scalar(select(Term).where(Term.school_id == school.id))
    assert term is not None
    users = {user.email: user for user in db.session.scalars(select(User).where(User.school_id == school.id))}
    teachers = sorted(
        (user for user in users.values() if user.role == Role.TEACHER.value), key=lambda user: user.email
    )
    count = len(db.session.scalars(select(Student.id).where(Student.school_id == school.id)).all())
    return Demo(
        school.id,
        term.id,
        term.starts_on,
        users[ADMIN].id,
        [t.id for t in teachers],
        users[ADMIN].password_hash,
        count,
    )


def _school_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _add_students(demo: Demo, grown: Grown, count: int, rng: random.Random) -> None:
    for n in range(count):
        student_id, user_id = uuid.uuid4(), uuid.uuid4()
        first, last = rng.choice(FIRST), rng.choice(LAST)
        grown.students.append(
            {
                "id": student_id,
                "school_id": demo.school_id,
                "admission_number": f"B-{n + 1:05d}",
                "first_name": first,
                "last_name": last,
                "date_of_birth": date(2014, 1 + n % 12, 1 + n % 28),
                "grade_level": 5 + (n // CLASS_SIZE) % 7,
                "enrolled_on": demo.term_starts_on - timedelta(days=365),
            }
        )
        grown.users.append(
            {
                "id": user_id,
                "school_id": demo.school_id,
                "email": f"guardian{n + 1}@bench.example.org",
                "full_name": f"{rng.choice(FIRST)} {last}",
                "role": Role.PARENT.value,
                "password_hash": demo.password_hash,
            }
        )
        grown.links.append(
            {
                "school_id": demo.school_id,
                "student_id": student_id,
                "user_id": user_id,
                "relationship": "parent",
                "is_primary": True,
            }
        )


def _grade(
    demo: Demo, assessment: dict[str, Any], student_id: uuid.UUID, rng: random.Random
) -> dict[str, Any]:
    draw = rng.random()
    status, score = GradeStatus.GRADED.value, None
    if draw < MISSING:
        status = GradeStatus.MISSING.value
    elif draw < MISSING + EXEMPT:
        status = GradeStatus.EXEMPT.value
    else:
        top = int(assessment["max_score"])
        score = Decimal(rng.randint(top * 35 // 100, top))
    return {
        "school_id": demo.school_id,
        "assessment_id": assessment["id"],
        "student_id": student_id,
        "status": status,
        "score": score,
        "graded_by": assessment["teacher_id"],
    }


def _add_class(demo: Demo, grown: Grown, group: int, slot: int, members: list[dict[str, Any]]) -> None:
    """One class of a group of students, its assessments, enrolments and grades."""
    subject = SUBJECTS[(group + slot) % len(SUBJECTS)]
    if slot >= len(SUBJECTS):  # more classes than subjects: "Maths 2", ...
        subject = f"{subject} {slot // len(SUBJECTS) + 1}"
    teacher_id = demo.teacher_ids[len(grown.classes) % len(demo.teacher_ids)]
    class_id = uuid.uuid4()
    grade_level = members[0]["grade_level"]
    grown.classes.append(
        {
            "id": class_id,
            "school_id": demo.school_id,
            "name": f"Y{grade_level} {subject} {group + 1:03d}.{slot + 1}",
            "subject": subject,
            "grade_level": grade_level,
            "term_id": demo.term_id,
            "teacher_id": teacher_id,
        }
    )
    rng = random.Random(f"{group}.{slot}")
    for n, (weight, max_score) in enumerate(ASSESSMENTS):
        assessment = {
            "id": uuid.uuid4(),
            "school_id": demo.school_id,
            "class_id": class_id,
            "title": f"{subject} assessment {n + 1}",
            "category": "test",
            "max_score": max_score,
            "weight": weight,
            "due_on": demo.term_starts_on + timedelta(days=7 * (n + 1)),
            "published": True,
        }
        grown.assessments.append(assessment)
        grown.grades.extend(
            _grade(demo, {**assessment, "teacher_id": teacher_id}, member["id"], rng) for member in members
        )
    for member in members:
        grown.enrollments.append(
            {"school_id": demo.school_id, "class_id": class_id, "student_id": member["id"]}
        )


def _add_attendance_and_comments(
    demo: Demo, grown: Grown, first_class: dict[str, Any], group: int, members: list[dict[str, Any]]
) -> None:
    """10 school days in the group's first class, that class's comment and the overall one."""
    days = _school_days(demo.term_starts_on, ATTENDANCE_DAYS)
    statuses, weights = [status.value for status in STATUS_WEIGHTS], list(STATUS_WEIGHTS.values())
    rng = random.Random(group)
    for member in members:
        grown.attendance.extend(
            {
                "school_id": demo.school_id,
                "student_id": member["id"],
                "class_id": first_class["id"],
                "on_date": day,
                "status": rng.choices(statuses, weights)[0],
                "recorded_by": first_class["teacher_id"],
            }
            for day in days
        )
        body = COMMENT.format(first=member["first_name"])
        for class_id, author in ((first_class["id"], first_class["teacher_id"]), (None, demo.admin_id)):
            grown.comments.append(
                {
                    "school_id": demo.school_id,
                    "term_id": demo.term_id,
                    "student_id": member["id"],
                    "class_id": class_id,
                    "body": body,
                    "author_id": author,
                }
            )


def _insert(model: type[Any], rows: list[dict[str, Any]]) -> None:
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(model), rows[start : start + BATCH])
    db.session.commit()
    progress(f"  {model.__tablename__}: {len(rows):,} rows in {time.perf_counter() - started:.1f} s")


def grow(total: int, per_student: int) -> tuple[Demo, Grown]:
    """Add students up to `total`, in groups of 30 sharing `per_student` classes."""
    demo = _demo()
    grown = Grown()
    _add_students(demo, grown, max(total - demo.students, 0), random.Random(1))
    groups = [grown.students[n : n + CLASS_SIZE] for n in range(0, len(grown.students), CLASS_SIZE)]
    for group, members in enumerate(groups):
        for slot in range(per_student):
            _add_class(demo, grown, group, slot, members)
            if slot == 0:
                _add_attendance_and_comments(demo, grown, grown.classes[-1], group, members)
    for model, rows in (
        (Student, grown.students),
        (User, grown.users),
        (GuardianLink, grown.links),
        (SchoolClass, grown.classes),
        (Enrollment, grown.enrollments),
        (Assessment, grown.assessments),
        (Grade, grown.grades),
        (AttendanceRecord, grown.attendance),
        (ReportComment, grown.comments),
    ):
        _insert(model, rows)
    return demo, grown


# --- measuring ---------------------------------------------------------------------------------------


@dataclass
class Measure:
    seconds: float
    statements: list[str]

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counting(engine: Engine) -> Iterator[Measure]:
    """Time the block and record the SQL statements it sends (as `count_statements` does)."""
    measure = Measure(0.0, [])

    def record(*args: Any) -> None:
        measure.statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    started = time.perf_counter()
    try:
        yield measure
    finally:
        measure.seconds = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", record)


_VERB = re.compile(r"\s*(INSERT INTO|DELETE FROM|\w+)", re.I)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.I)


def shape(statement: str) -> str:
    """`SELECT students`, `INSERT INTO report_cards`: a statement's verb and its first table
    outside parentheses (not a subquery's)."""
    verb = _VERB.match(statement)
    name = verb.group(1).upper() if verb else "?"
    for found in _TABLE.finditer(statement):
        head = statement[: found.start()]
        if head.count("(") == head.count(")"):
            return f"{name} {found.group(1)}"
    return name


def kinds(statements: list[str], top: int = 6) -> str:
    """The commonest kinds of statement: `SELECT report_cards x2001, SELECT students x391, ...`."""
    shapes = Counter(shape(statement) for statement in statements).most_common(top)
    return ", ".join(f"{name} x{n}" for name, n in shapes)


@dataclass
class Bench:
    app: Flask
    client: FlaskClient
    headers: dict[str, str]
    term_id: str
    engine: Engine

    def call(self, method: str, url: str, **kwargs: Any) -> tuple[Measure, Any]:
        with counting(self.engine) as measure:
            response = self.client.open(url, method=method, headers=self.headers, **kwargs)
            data = response.get_data()
        if response.status_code not in (200, 201):
            detail = data[:300].decode(errors="replace")
            raise Failed(
                f"{method} {url}: HTTP {response.status_code} after {_ms(measure.seconds)}: {detail}"
            )
        return measure, response


class Failed(Exception):
    """A request the benchmark needs did not succeed: the figures stop there."""


class RssPeak:
    """The process's resident memory sampled every 20 ms in a thread, for a cheap cross-check of
    tracemalloc: its peak over the value at the start."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start: int = self.process.memory_info().rss
        self.peak: int = self.start
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, int(self.process.memory_info().rss))

    def __enter__(self) -> RssPeak:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)

    @property
    def growth(self) -> int:
        return self.peak - self.start


@dataclass
class Zipped:
    seconds: float
    first_byte: float
    bytes: int
    reports: int
    largest_chunk: int
    entries: int = 0
    view_peak: int = 0  # tracemalloc's peak while the view read the cards, before the first byte
    held: int = 0  # what the heap still held when the streaming began (the entries to render)
    stream_peak: int = 0  # its peak while the ZIP streamed
    rss_growth: int = 0  # the process's resident memory's peak over its value at the start
    statements: list[str] = field(default_factory=list)


def _drain(response: Any, figures: Zipped, started: float, sink: BinaryIO | None) -> None:
    for piece in response.response:
        chunk = piece if isinstance(piece, bytes) else piece.encode()
        if not figures.bytes:
            figures.first_byte = time.perf_counter() - started
        figures.bytes += len(chunk)
        figures.largest_chunk = max(figures.largest_chunk, len(chunk))
        if sink:
            sink.write(chunk)


def download_zip(bench: Bench, traced: bool, keep: Path | None) -> Zipped:
    """Read the ZIP chunk by chunk (written to `keep` when given, to check it after), timing it,
    and with `traced` the Python heap's peak before and during the streaming."""
    url = f"/api/terms/{bench.term_id}/report-cards.zip"
    if traced:
        tracemalloc.start()
    with RssPeak() as rss, counting(bench.engine) as measure:
        started = time.perf_counter()
        response = bench.client.get(url, headers=bench.headers, buffered=False)
        assert response.status_code == 200, response.status_code
        figures = Zipped(0.0, 0.0, 0, int(response.headers["X-Report-Count"]), 0)
        if traced:
            figures.held, figures.view_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
        with keep.open("wb") if keep else contextlib.nullcontext() as sink:
            try:
                _drain(response, figures, started, sink)
            finally:
                response.close()
        figures.seconds = time.perf_counter() - started
        if traced:
            figures.stream_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    figures.rss_growth, figures.statements = rss.growth, measure.statements
    if keep:
        with zipfile.ZipFile(keep) as archive:
            figures.entries = len(archive.namelist())
            assert archive.testzip() is None
    return figures


def profiled(action: Callable[[], T], top: int = 30) -> T:
    profile = cProfile.Profile()
    result = profile.runcall(action)
    stats = pstats.Stats(profile, stream=sys.stderr)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return result


# --- the run -----------------------------------------------------------------------------------------


Rows = list[tuple[str, str]]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _publish(bench: Bench, profile: bool, rows: Rows) -> str:
    url = f"/api/terms/{bench.term_id}/report-cards/publish"

    def call() -> tuple[Measure, Any]:
        return bench.call("POST", url, json={"scope": "school"})

    measure, response = profiled(call) if profile else call()
    body = response.get_json()
    rows.append(("publish (school)", f"{_ms(measure.seconds)}, {measure.count:,} statements"))
    rows.append(
        (
            "publish: answer",
            f"students {body['students']:,}, published {body['published']:,}, updated {body['updated']}, "
            f"unchanged {body['unchanged']}, emails_queued {body['emails_queued']:,}",
        )
    )
    rows.append(("publish: statements by kind", kinds(measure.statements)))
    again, response = bench.call("POST", url, json={"scope": "school"})
    body = response.get_json()
    rows.append(
        (
            "publish again, nothing changed",
            f"{_ms(again.seconds)}, {again.count:,} statements; unchanged {body['unchanged']:,}, "
            f"published {body['published']}, updated {body['updated']}, emails {body['emails_queued']}",
        )
    )
    return str(body["term_id"])


def _reads(bench: Bench, class_id: uuid.UUID, rows: Rows) -> None:
    baseline, _ = bench.call("GET", "/api/auth/me")
    rows.append(("baseline: GET /api/auth/me", f"{_ms(baseline.seconds)}, {baseline.count} statements"))
    measure, response = bench.call("GET", f"/api/classes/{class_id}/term-results")
    items = len(response.get_json()["items"])
    rows.append(
        ("term results, one class", f"{_ms(measure.seconds)}, {measure.count} statements, {items} students")
    )
    measure, response = bench.call("GET", f"/api/terms/{bench.term_id}/results.csv")
    data = response.get_data()
    rows.append(
        (
            "results.csv",
            f"{_ms(measure.seconds)}, {len(data):,} bytes, {len(data.splitlines()) - 1:,} rows, "
            f"{measure.count} statements",
        )
    )


def _zip(bench: Bench, folder: Path, traced: bool, rows: Rows) -> None:
    timed = download_zip(bench, traced=False, keep=folder / "reports.zip")
    rows.append(
        (
            "report-cards.zip",
            f"{_ms(timed.seconds)}, {_mib(timed.bytes)} ({timed.bytes:,} bytes), {timed.reports:,} reports, "
            f"{timed.entries:,} entries (testzip ok), first byte after {_ms(timed.first_byte)}, "
            f"{len(timed.statements)} statements",
        )
    )
    rows.append(("ZIP: statements by kind", kinds(timed.statements)))
    rows.append(("ZIP: mean per PDF", _ms(timed.seconds / max(timed.reports, 1))))
    rows.append(
        (
            "ZIP: process RSS growth (sampled every 20 ms)",
            f"{_mib(timed.rss_growth)} against a {_mib(timed.bytes)} ZIP; largest chunk "
            f"{timed.largest_chunk / 1024:,.0f} KiB",
        )
    )
    if not traced:
        return
    again = download_zip(bench, traced=True, keep=None)
    rows.append(
        (
            "ZIP: Python heap peak (tracemalloc)",
            f"{_mib(again.view_peak)} up to the first byte (reading the cards; {_mib(again.held)} still held "
            f"when streaming began), {_mib(again.stream_peak)} while streaming, "
            f"against a {_mib(again.bytes)} ZIP "
            f"({again.stream_peak / max(again.bytes, 1):.1%}); "
            f"traced run {_ms(again.seconds)}",
        )
    )


def _pdf(bench: Bench, rows: Rows) -> None:
    _, listing = bench.call("GET", f"/api/terms/{bench.term_id}/report-cards?limit=1")
    card_id = listing.get_json()["items"][0]["id"]
    times, size = [], 0
    for _ in range(PDF_REPEAT):
        measure, response = bench.call("GET", f"/api/report-cards/{card_id}/pdf")
        times.append(measure.seconds)
        size = len(response.get_data())
    rows.append(
        (
            f"one PDF, median of {PDF_REPEAT}",
            f"{_ms(statistics.median(times))} (slowest {_ms(max(times))}), {size:,} bytes, "
            f"{measure.count} statements",
        )
    )


def _machine(app: Flask) -> str:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            server = str(db.session.scalar(text("SHOW server_version")))
            database = f"PostgreSQL {server}"
        else:
            database = f"SQLite {db.session.scalar(text('SELECT sqlite_version()'))}"
    return (
        f"{platform.platform()}, {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; {database}"
    )


@dataclass
class Built:
    password: str
    demo: Demo
    grown: Grown
    class_id: uuid.UUID
    engine: Engine
    analyzed: bool


def _analyze() -> None:
    """Statistics for the query planner, as PostgreSQL's autovacuum gathers them a minute or so
    after a bulk load (the app never runs ANALYZE on SQLite)."""
    started = time.perf_counter()
    with owner_access("bench report cards: analyze"):
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    progress(f"  ANALYZE in {time.perf_counter() - started:.1f} s")


def build(app: Flask, options: argparse.Namespace) -> Built:
    """Migrate, seed the demo school, grow it; ANALYZE when asked (by default on PostgreSQL)."""
    started = time.perf_counter()
    with app.app_context(), platform_access("bench report cards"):
        upgrade()
        progress(f"migrated in {time.perf_counter() - started:.1f} s; seeding the demo school")
        password = seed(lambda _n: None).password
        assert password is not None
        progress(f"demo school after {time.perf_counter() - started:.1f} s; growing it")
        demo, grown = grow(options.students, options.classes_per_student)
        class_id = (
            grown.classes[0]["id"]
            if grown.classes
            else db.session.scalar(select(SchoolClass.id).where(SchoolClass.term_id == demo.term_id))
        )
        assert isinstance(class_id, uuid.UUID)
        analyzed = options.analyze if options.analyze is not None else db.engine.dialect.name == "postgresql"
        if analyzed:
            _analyze()
        return Built(password, demo, grown, class_id, db.engine, analyzed)


def measure_all(app: Flask, built: Built, folder: Path, options: argparse.Namespace, rows: Rows) -> None:
    client = app.test_client()
    login = client.post("/api/auth/login", json={"email": ADMIN, "password": built.password}).get_json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    bench = Bench(app, client, headers, str(built.demo.term_id), built.engine)
    try:
        _publish(bench, options.profile, rows)
        progress("published; reading")
        _reads(bench, built.class_id, rows)
        progress("downloading the ZIP" + ("" if options.no_trace else " (twice: timed, then traced: slow)"))
        _zip(bench, folder, not options.no_trace, rows)
        _pdf(bench, rows)
    except Failed as failure:
        rows.append(("**FAILED**", str(failure).replace("|", "/")))
    rows.append(("process max RSS", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"))


def run(database_url: str, folder: Path, options: argparse.Namespace) -> None:
    """Build the school in `database_url`, measure, print the table."""
    app = create_app(
        settings_from(
            APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", **RELAXED, **FAST_HASHING
        )
    )
    try:
        started = time.perf_counter()
        built = build(app, options)
        seconds = time.perf_counter() - started
        grown, total = built.grown, built.demo.students + len(built.grown.students)
        rows: Rows = [
            (
                "build (migrate, seed, grow)",
                f"{seconds:,.1f} s: {total:,} students, {len(grown.classes) + 2} classes, "
                f"{len(grown.grades):,} grades, {len(grown.attendance):,} attendance marks "
                f"({ATTENDANCE_DAYS} days, one class per student), {len(grown.users):,} guardians; "
                f"{'ANALYZE run' if built.analyzed else 'no ANALYZE'}",
            )
        ]
        progress(f"built in {seconds:.1f} s; measuring")
        measure_all(app, built, folder, options, rows)
        print(
            f"\nReport cards, {total:,} students x {options.classes_per_student} classes; {_machine(app)}\n"
        )
        print("| measure | figure |\n|---|---|")
        for name, figure in rows:
            print(f"| {name} | {figure} |")
    finally:
        dispose_pools(app)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=2000, help="students in all (the demo has 60)")
    parser.add_argument("--classes-per-student", type=int, default=6)
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to make a scratch database on (default: SQLite)",
    )
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        help="ANALYZE after the build (default: PostgreSQL yes, as autovacuum would; SQLite no, as the app)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the first publish (stderr)")
    parser.add_argument(
        "--no-trace", action="store_true", help="skip the ZIP's second, tracemalloc'd download (8x slower)"
    )
    args = parser.parse_args()
    if not 1 <= args.classes_per_student <= 50:
        parser.error("--classes-per-student: 1 to 50")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url names a PostgreSQL server (postgresql://...)")
    with tempfile.TemporaryDirectory(prefix="homeroom-reportcards-") as folder:
        if args.database_url:
            with scratch_database(args.database_url, "homeroom_bench") as url:
                progress(f"scratch database {url.rsplit('/', 1)[-1]} (dropped at the end)")
                run(url, Path(folder), args)
        else:
            run(f"sqlite:///{folder}/reportcards.db", Path(folder), args)


if __name__ == "__main__":
    main()
