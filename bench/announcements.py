"""Announcements in a large school: publishing to the whole school, a year group and a class (urgent
or not), a parent's feed and unread count, read receipts and withdrawing, through the HTTP API
(in-process, Flask's test client).

    .venv/bin/python bench/announcements.py [--database sqlite|postgresql] [--students 2000]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--repeat 3] [--requests 200]
        [--announcements 200] [--[no-]analyze] [--profile] [--explain]

Builds the demo school (`backend.demo.seed`) in a scratch database (SQLite in a temporary folder,
or on PostgreSQL a `homeroom_bench_<random>` database created on `--database-url`'s server
(default `BENCH_DATABASE_URL`, else the local test server), migrated with Alembic and dropped at
the end; only 127.0.0.1), then grows it to `--students` students in form classes of 30 (year
groups 5 to 11 in turn) with one parent account each, except that every 20th new student is the
younger sibling of one 35 places back (their guardian has two children, in two classes and two year
groups), and staff up to 80 (5 admins, the rest teachers, one per class in turn). About 1,900
guardians and 80 staff: a whole-school announcement reaches about 1,980 people.

Then, as the admin: about `--announcements` announcements in all, published now through the API to
a mix of audiences (the whole school, parents, staff, a year group, a class; a few pinned); then
ANALYZE on PostgreSQL (as autovacuum would after such a load; `--no-analyze` skips it), not on
SQLite (the app never runs it). Then it measures, printing a Markdown table:

- publishing now to the whole school, a year group and a class, not urgent and urgent (emails
  queued in the outbox for everyone), `--repeat` times each: the median wall time (min-max), SQL
  statements (every repeat's count: they must not grow with the audience; a last row compares
  them), the share of the time spent in SQL statements and in COMMIT, the statements by kind and
  the slowest one, the recipients and the outbox rows;
- a parent's (two children) feed, first page and the next, and unread count: p50/p95/max over
  `--requests` requests, statements per request; marking one read;
- the whole-school announcement's receipts (counts) and its not-read list, first page (also for
  one class's families), with about 60% of its recipients marked read (set in SQL beforehand);
- withdrawing the whole-school announcements (the urgent one cancels its queued emails) and a
  class one.

SQL statements are counted as `tests/conftest.py: count_statements` does (a `before_cursor_execute`
listener), and include the request's own (authentication, row scope), shown as the baseline of
`GET /api/auth/me`; an `executemany` counts once. `--profile` publishes two more announcements to
the whole school (not urgent, urgent) under cProfile and prints their hotspots to stderr; `--explain`
prints the query plan of each measured step's slowest statement to stderr (PostgreSQL: EXPLAIN
ANALYZE under the school's row scope, rolled back, or a plain EXPLAIN when rerunning it conflicts;
SQLite: EXPLAIN QUERY PLAN). Progress goes to stderr. Bounded in count and time (about a minute
and a half on a 2-core machine); no network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from backend import create_app
from backend.announcements import Recipient
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term
from backend.config import settings_from
from backend.core.context import RowScope
from backend.core.db import dispose_pools, scratch_database
from backend.core.db.row_security import running_under
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.demo.seed import FIRST, LAST, SLUG, seed
from backend.mail.models import MailStatus, OutboxMessage
from backend.schools import School
from backend.students import GuardianLink, Student
from backend.tenancy import Role, owner_access, platform_access
from bench.report_cards import ADMIN, FAST_HASHING, RELAXED, kinds, profiled, progress, shape

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
CLASS_SIZE = 30
YEARS = 7  # year groups 5 to 11, one form class of 30 after another
FIRST_YEAR = 5
STAFF = 80  # admins and teachers in all (the demo has 3)
ADMINS = 5
SIBLING_EVERY, SIBLING_GAP = 20, 35  # every 20th new student shares the guardian of the one 35 before
BATCH = 5000  # rows per INSERT (executemany)
READ_SHARE = 0.6  # of the whole-school announcement's recipients, marked read before the receipts
RECEIPT_REQUESTS = 50
BODY = """Dear families and staff,

**{title}.** Please read the details below and get in touch with the office if anything is unclear.

- Doors open at 08:15; registration closes at 08:45.
- Bring the *signed* form back to your child's form tutor by Friday.
- Lunch is served as usual; packed lunches are welcome.

More on the [school's website](https://example.org/news/{n}). Thank you for your support.

Notice {n}.
"""
# The background announcements' audiences, in turn.
CYCLE = ("school", "class", "year", "parents", "class", "year", "staff", "school", "class", "year")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 0.1 else f"{seconds * 1000:,.0f} ms"


# --- building the school ---------------------------------------------------------------------------


@dataclass
class GrownSchool:
    """What the measures need to know about the grown school."""

    school_id: uuid.UUID
    term_id: uuid.UUID
    classes: list[tuple[uuid.UUID, int]]  # (id, year group): the sibling's two first, the demo's last
    students: int
    parents: int
    staff: int
    families_of_two: int
    parent_email: str  # a guardian of two children, in classes[0] and classes[1]


@dataclass
class Rows:
    students: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)


def _insert(model: type[Any], rows: list[dict[str, Any]]) -> None:
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(model), rows[start : start + BATCH])
    db.session.commit()
    progress(f"  {model.__tablename__}: {len(rows):,} rows in {time.perf_counter() - started:.1f} s")


def _staff(school_id: uuid.UUID, existing: int, password_hash: str, rows: Rows) -> None:
    for n in range(max(STAFF - existing, 0)):
        role = Role.ADMIN if n < ADMINS - 1 else Role.TEACHER  # the demo has one admin
        rows.users.append(
            {
                "id": uuid.uuid4(),
                "school_id": school_id,
                "email": f"staff{n + 1}@bench.example.org",
                "full_name": f"{FIRST[n % len(FIRST)]} {LAST[(n * 7) % len(LAST)]}",
                "role": role.value,
                "password_hash": password_hash,
            }
        )


def _students(
    school_id: uuid.UUID, term: Term, count: int, password_hash: str, teachers: list[uuid.UUID], rows: Rows
) -> int:
    """`count` students in form classes of 30, each with a guardian (a sibling shares one); how
    many guardians have two children."""
    rng = random.Random(2)
    guardian_of: list[uuid.UUID] = []
    families_of_two = 0
    for n in range(count):
        group = n // CLASS_SIZE
        year = FIRST_YEAR + group % YEARS
        if n % CLASS_SIZE == 0:
            rows.classes.append(
                {
                    "id": uuid.uuid4(),
                    "school_id": school_id,
                    "name": f"Form {year}{chr(65 + group // YEARS % 26)} {group + 1:03d}",
                    "subject": "Form",
                    "grade_level": year,
                    "term_id": term.id,
                    "teacher_id": teachers[group % len(teachers)],
                }
            )
        student_id = uuid.uuid4()
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.students.append(
            {
                "id": student_id,
                "school_id": school_id,
                "admission_number": f"A-{n + 1:05d}",
                "first_name": first,
                "last_name": last,
                "date_of_birth": date(2020 - year, 1 + n % 12, 1 + n % 28),
                "grade_level": year,
                "enrolled_on": term.starts_on - timedelta(days=365),
            }
        )
        rows.enrollments.append(
            {"school_id": school_id, "class_id": rows.classes[-1]["id"], "student_id": student_id}
        )
        if n % SIBLING_EVERY == SIBLING_EVERY - 1 and n >= SIBLING_GAP:
            guardian = guardian_of[n - SIBLING_GAP]
            families_of_two += 1
        else:
            guardian = uuid.uuid4()
            rows.users.append(
                {
                    "id": guardian,
                    "school_id": school_id,
                    "email": f"guardian{n + 1}@bench.example.org",
                    "full_name": f"{rng.choice(FIRST)} {last}",
                    "role": Role.PARENT.value,
                    "password_hash": password_hash,
                }
            )
        guardian_of.append(guardian)
        rows.links.append(
            {
                "school_id": school_id,
                "student_id": student_id,
                "user_id": guardian,
                "relationship": "parent",
                "is_primary": True,
            }
        )
    return families_of_two


def grow(total: int) -> GrownSchool:
    """Staff up to 80, students up to `total` in form classes with their guardians."""
    school = db.session.scalar(select(School).where(School.slug == SLUG))
    assert school is not None
    term = db.session.scalar(select(Term).where(Term.school_id == school.id))
    assert term is not None
    users = list(db.session.scalars(select(User).where(User.school_id == school.id)))
    admin = next(user for user in users if user.email == ADMIN)
    staff = [user for user in users if user.role in (Role.ADMIN.value, Role.TEACHER.value)]
    existing = len(db.session.scalars(select(Student.id).where(Student.school_id == school.id)).all())
    demo_classes = [
        (c.id, c.grade_level)
        for c in db.session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))
    ]
    rows = Rows()
    _staff(school.id, len(staff), admin.password_hash, rows)
    teachers = [u.id for u in staff if u.role == Role.TEACHER.value] + [
        u["id"] for u in rows.users if u["role"] == Role.TEACHER.value
    ]
    families = _students(school.id, term, max(total - existing, 0), admin.password_hash, teachers, rows)
    for model, batch in (
        (User, rows.users),
        (Student, rows.students),
        (GuardianLink, rows.links),
        (SchoolClass, rows.classes),
        (Enrollment, rows.enrollments),
    ):
        _insert(model, batch)
    parents = db.session.scalar(
        select(func.count()).where(User.school_id == school.id, User.role == Role.PARENT.value)
    )
    staff_count = db.session.scalar(
        select(func.count()).where(User.school_id == school.id, User.role != Role.PARENT.value)
    )
    # The first younger sibling (new student 39): their guardian is the one the feed is read as.
    sibling = next(
        (n for n in range(len(rows.students)) if n % SIBLING_EVERY == SIBLING_EVERY - 1 and n >= SIBLING_GAP),
        0,
    )
    guardian = rows.links[sibling]["user_id"] if families else None
    email = next((u["email"] for u in rows.users if u["id"] == guardian), "parent1@demo-school.example.org")
    by_id = {c["id"]: c for c in rows.classes}
    ordered = [c["id"] for c in rows.classes]
    if families:  # the sibling's two classes first
        elder = rows.enrollments[sibling - SIBLING_GAP]["class_id"]
        younger = rows.enrollments[sibling]["class_id"]
        ordered = [elder, younger] + [c for c in ordered if c not in (elder, younger)]
    classes = [(c, int(by_id[c]["grade_level"])) for c in ordered] + demo_classes
    return GrownSchool(
        school.id,
        term.id,
        classes,
        existing + len(rows.students),
        int(parents or 0),
        int(staff_count or 0),
        families,
        email,
    )


def _analyze() -> None:
    started = time.perf_counter()
    with owner_access("bench announcements: analyze"):
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    progress(f"  ANALYZE in {time.perf_counter() - started:.1f} s")


# --- measuring ---------------------------------------------------------------------------------------


@dataclass
class Slow:
    seconds: float
    statement: str
    parameters: Any
    many: bool


@dataclass
class Measure:
    seconds: float = 0.0
    sql_seconds: float = 0.0  # the statements' own time (cursor.execute, executemany)
    commit_seconds: float = 0.0  # the COMMITs' (not statements: not counted)
    statements: list[str] = field(default_factory=list)
    slowest: Slow | None = None

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def in_database(self) -> str:
        """The share of the wall time in SQL statements and in COMMIT."""
        return f"SQL {self.sql_seconds / self.seconds:.0%} + COMMIT {self.commit_seconds / self.seconds:.0%}"


@contextmanager
def counting(engine: Engine) -> Iterator[Measure]:
    """Time the block, count its SQL statements (as `count_statements` does) and time each."""
    measure = Measure()
    started_at: list[float] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        measure.statements.append(statement)
        started_at.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if not started_at:
            return
        took = time.perf_counter() - started_at.pop()
        measure.sql_seconds += took
        if measure.slowest is None or took > measure.slowest.seconds:
            measure.slowest = Slow(took, statement, parameters, many)

    commit = engine.dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        began = time.perf_counter()
        try:
            commit(dbapi_connection)
        finally:
            measure.commit_seconds += time.perf_counter() - began

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]  # timed for the block
    started = time.perf_counter()
    try:
        yield measure
    finally:
        measure.seconds = time.perf_counter() - started
        del engine.dialect.do_commit  # the dialect's own again
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


class Failed(Exception):
    """A request the benchmark needs did not succeed: the figures stop there."""


@dataclass
class Bench:
    app: Flask
    client: FlaskClient
    engine: Engine
    school: GrownSchool
    password: str
    headers: dict[str, str] = field(default_factory=dict)
    slow: list[tuple[str, Slow]] = field(default_factory=list)  # each step's slowest statement
    audiences: list[tuple[str, int, list[str]]] = field(
        default_factory=list
    )  # publish: recipients, statements

    def call(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[Measure, Any]:
        with counting(self.engine) as measure:
            response = self.client.open(url, method=method, headers=headers or self.headers, **kwargs)
            response.get_data()
        if response.status_code not in (200, 201, 204):
            detail = response.get_data()[:300].decode(errors="replace")
            raise Failed(
                f"{method} {url}: HTTP {response.status_code} after {_ms(measure.seconds)}: {detail}"
            )
        return measure, response

    def series(
        self, method: str, url: str, n: int, headers: dict[str, str] | None = None
    ) -> tuple[list[Measure], Any]:
        """`n` requests (after 3 not counted, to warm the statement cache)."""
        for _ in range(3):
            self.call(method, url, headers)
        measures, response = [], None
        for _ in range(n):
            measure, response = self.call(method, url, headers)
            measures.append(measure)
        return measures, response

    def keep_slowest(self, step: str, measures: list[Measure]) -> None:
        found = [m.slowest for m in measures if m.slowest is not None]
        if found:
            self.slow.append((step, max(found, key=lambda s: s.seconds)))

    def scoped(self) -> Any:
        """The school's row scope (what its users' requests run under), in an app context."""
        return running_under(RowScope(school_id=str(self.school.school_id)))


def _percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {_ms(statistics.median(ordered))}, p95 {_ms(p95)}, max {_ms(ordered[-1])}"


def _counts(measures: list[Measure]) -> str:
    found = sorted({m.count for m in measures})
    return str(found[0]) if len(found) == 1 else "-".join(map(str, (found[0], found[-1])))


Table = list[tuple[str, str]]


def _payload(title: str, n: int, audience: str, urgent: bool = False, **target: Any) -> dict[str, Any]:
    return {
        "title": title,
        "body": BODY.format(title=title, n=n),
        "audience": audience,
        "urgent": urgent,
        **target,
    }


def _target(audience: str, n: int, school: GrownSchool) -> dict[str, Any]:
    if audience == "class":
        return {"class_id": str(school.classes[n % len(school.classes)][0])}
    if audience == "year":
        return {"grade_level": FIRST_YEAR + n % YEARS}
    return {}


def background(bench: Bench, count: int, table: Table) -> None:
    """`count` announcements to a mix of audiences, published now (a few pinned for a week)."""
    by_audience: dict[str, list[Measure]] = defaultdict(list)
    started = time.perf_counter()
    for n in range(count):
        audience = CYCLE[n % len(CYCLE)]
        body = _payload(f"Notice {n + 1}", n, audience, **_target(audience, n // len(CYCLE), bench.school))
        if n % 40 == 0:
            body["pinned_until"] = str(date.today() + timedelta(days=7))
        measure, _ = bench.call("POST", "/api/announcements", json=body)
        by_audience[audience].append(measure)
        if (n + 1) % 50 == 0:
            progress(f"  {n + 1} announcements in {time.perf_counter() - started:.1f} s")
    figures = "; ".join(
        f"{audience} x{len(ms)}: p50 {_ms(statistics.median(m.seconds for m in ms))}, "
        f"{_counts(ms)} statements"
        for audience, ms in sorted(by_audience.items())
    )
    table.append(
        (f"{count} announcements published first (mix)", f"{time.perf_counter() - started:.1f} s; {figures}")
    )


def _outbox(bench: Bench, announcement_id: str, status: MailStatus | None = None) -> int:
    with bench.app.app_context(), platform_access("bench announcements: outbox"):
        statement = select(func.count()).where(
            OutboxMessage.dedup_key.like(f"announcement:{announcement_id}:%")
        )
        if status is not None:
            statement = statement.where(OutboxMessage.status == status.value)
        return int(db.session.scalar(statement) or 0)


@dataclass
class Published:
    ids: list[str]
    recipients: int


def publish(
    bench: Bench, label: str, audience: str, urgent: bool, repeat: int, table: Table, **target: Any
) -> Published:
    """Publish `repeat` announcements to one audience now, each measured."""
    measures, ids, recipients = [], [], 0
    for n in range(repeat):
        body = _payload(f"{label} {n + 1}", n, audience, urgent, **target)
        measure, response = bench.call("POST", "/api/announcements", json=body)
        out = response.get_json()
        measures.append(measure)
        ids.append(out["id"])
        recipients = out["recipient_count"]
    emails = [_outbox(bench, i) for i in ids] if urgent else []
    times = [m.seconds for m in measures]
    middle = sorted(measures, key=lambda m: m.seconds)[len(measures) // 2]
    slowest = max((m.slowest for m in measures if m.slowest), key=lambda s: s.seconds)
    bench.slow.append((label, slowest))
    table.append(
        (
            label,
            f"{_ms(statistics.median(times))} median ({_ms(min(times))}-{_ms(max(times))}) of {repeat}; "
            f"statements {', '.join(str(m.count) for m in measures)}; "
            f"{middle.in_database} of the median one; "
            f"{recipients:,} recipients"
            + (f"; outbox rows {', '.join(f'{e:,}' for e in emails)}" if urgent else "")
            + f"; slowest statement {_ms(slowest.seconds)} ({shape(slowest.statement)})",
        )
    )
    table.append((f"{label}: statements by kind", kinds(middle.statements, 12)))
    bench.audiences.append((label, recipients, measures[0].statements))
    return Published(ids, recipients)


def feed(bench: Bench, n: int, table: Table) -> None:
    """A guardian of two children: their feed's first page and the next, the unread count."""
    school = bench.school
    login = bench.client.post(
        "/api/auth/login", json={"email": school.parent_email, "password": bench.password}
    )
    if login.status_code != 200:
        raise Failed(f"parent login: HTTP {login.status_code}")
    parent = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    _, response = bench.call("GET", "/api/me/announcements/unread-count", parent)
    before = response.get_json()["unread"]
    _, response = bench.call("GET", "/api/me/announcements", parent)
    page = response.get_json()["items"]
    marks = []
    for item in page[2::3]:  # a third of the first page read, one by one
        measure, _ = bench.call("POST", f"/api/me/announcements/{item['id']}/read", parent)
        marks.append(measure)
    measures, response = bench.series("GET", "/api/me/announcements", n, parent)
    body = response.get_json()
    items, cursor = body["items"], body["next_cursor"]
    bench.keep_slowest("feed, first page", measures)
    pinned = sum(item["pinned"] for item in items)
    table.append(
        (
            f"parent's feed, first page (N={n})",
            f"{_percentiles([m.seconds for m in measures])}; {_counts(measures)} statements per request; "
            f"{len(items)} items ({pinned} pinned), next page: {'yes' if cursor else 'no'}",
        )
    )
    if cursor:
        measures, response = bench.series(
            "GET", f"/api/me/announcements?cursor={cursor}", max(n // 4, 10), parent
        )
        bench.keep_slowest("feed, second page", measures)
        table.append(
            (
                f"parent's feed, second page (N={max(n // 4, 10)})",
                f"{_percentiles([m.seconds for m in measures])}; {_counts(measures)} statements per request; "
                f"{len(response.get_json()['items'])} items",
            )
        )
    measures, response = bench.series("GET", "/api/me/announcements/unread-count", n, parent)
    bench.keep_slowest("unread count", measures)
    unread = response.get_json()["unread"]
    table.append(
        (
            f"parent's unread count (N={n})",
            f"{_percentiles([m.seconds for m in measures])}; {_counts(measures)} statements per request; "
            f"{before} announcements in their feed, {len(marks)} marked read one by one first: "
            f"{unread} unread",
        )
    )
    if marks:
        table.append(
            (
                f"parent marks one read (x{len(marks)})",
                f"{_percentiles([m.seconds for m in marks])}; {_counts(marks)} statements",
            )
        )


def _mark_read(bench: Bench, announcement_id: str) -> tuple[int, int]:
    """READ_SHARE of its recipients read it (set directly: setting up, not measured)."""
    with bench.app.app_context(), platform_access("bench announcements: reads"):
        users = sorted(
            db.session.scalars(
                select(Recipient.user_id).where(Recipient.announcement_id == uuid.UUID(announcement_id))
            )
        )
        chosen = random.Random(3).sample(users, int(len(users) * READ_SHARE))
        for start in range(0, len(chosen), 500):
            db.session.execute(
                update(Recipient)
                .where(
                    Recipient.announcement_id == uuid.UUID(announcement_id),
                    Recipient.user_id.in_(chosen[start : start + 500]),
                )
                .values(read_at=utcnow())
            )
        db.session.commit()
        return len(chosen), len(users)


def receipts(bench: Bench, announcement_id: str, table: Table) -> None:
    read, total = _mark_read(bench, announcement_id)
    base = f"/api/announcements/{announcement_id}/receipts"
    class_id = bench.school.classes[0][0]
    for label, url in (
        ("receipts, counts", base),
        ("receipts, not read, first page", f"{base}/not-read"),
        ("receipts, one class's families, counts", f"{base}?class_id={class_id}"),
        ("receipts, one class's families, not read", f"{base}/not-read?class_id={class_id}"),
    ):
        measures, response = bench.series("GET", url, RECEIPT_REQUESTS)
        bench.keep_slowest(label, measures)
        body = response.get_json()
        shown = (
            f"recipients {body['recipients']:,}, read {body['read']:,}, not read {body['not_read']:,}"
            if "recipients" in body
            else f"{len(body['items'])} people on the page, "
            f"next page: {'yes' if body['next_cursor'] else 'no'}"
        )
        table.append(
            (
                f"{label} (N={RECEIPT_REQUESTS})",
                f"{_percentiles([m.seconds for m in measures])}; {_counts(measures)} statements; {shown}",
            )
        )
    table.append(("(receipts: set up)", f"{read:,} of {total:,} recipients marked read in SQL beforehand"))


def withdraw(bench: Bench, label: str, announcement_id: str, urgent: bool, table: Table) -> None:
    queued = _outbox(bench, announcement_id, MailStatus.QUEUED) if urgent else 0
    measure, response = bench.call("POST", f"/api/announcements/{announcement_id}/withdraw")
    assert response.get_json()["status"] == "withdrawn"
    if measure.slowest:
        bench.slow.append((label, measure.slowest))
    cancelled = _outbox(bench, announcement_id, MailStatus.CANCELLED) if urgent else 0
    table.append(
        (
            label,
            f"{_ms(measure.seconds)}, {measure.count} statements, {measure.in_database}"
            + (f"; emails cancelled {cancelled:,} of {queued:,} queued" if urgent else "")
            + f"; {kinds(measure.statements, 8)}",
        )
    )


_PARAMETER = r"(?:\?|%\(\w+\)s(?:::[A-Z ]+)?)"
_PARAMETER_LIST = re.compile(rf"\((?:{_PARAMETER}, ){{9,}}{_PARAMETER}\)")
_VALUES_ROWS = re.compile(
    rf"(VALUES \((?:{_PARAMETER}, )*{_PARAMETER}\))(?:, \((?:{_PARAMETER}, )*{_PARAMETER}\))+"
)
_ANY_ARRAY = re.compile(r"ANY \('\{[^}]{200,}\}'")
LONGEST = 2000  # characters of a statement or plan line shown


def _compact(statement: str) -> str:
    """The statement with each long list of parameters (or rows of VALUES) shortened."""
    statement = _VALUES_ROWS.sub(
        lambda found: f"{found.group(1)}, ... <{found.group(0).count('), (') + 1} rows>", statement
    )
    statement = _PARAMETER_LIST.sub(
        lambda found: f"(<{found.group(0).count(',') + 1} parameters>)", statement
    )
    statement = _ANY_ARRAY.sub(
        lambda found: f"ANY ('{{<{found.group(0).count(',') + 1} values>}}'", statement
    )
    return (
        statement
        if len(statement) <= LONGEST
        else f"{statement[:LONGEST]} ... <{len(statement):,} characters>"
    )


def growth(published: list[tuple[str, int, list[str]]]) -> str:
    """Each publish's statements against its recipients, and what differs from the smallest's."""
    parts = []
    for urgent in (False, True):
        runs = sorted((r for r in published if ("urgent" in r[0]) == urgent), key=lambda r: r[1])
        if not runs:
            continue
        _, _, base = runs[0]
        shown = []
        for _label, recipients, statements in runs:
            extra = Counter(map(shape, statements)) - Counter(map(shape, base))
            fewer = Counter(map(shape, base)) - Counter(map(shape, statements))
            delta = ", ".join(
                [f"+{n} {k}" for k, n in extra.items()] + [f"-{n} {k}" for k, n in fewer.items()]
            )
            shown.append(f"{recipients:,}: {len(statements)}" + (f" ({delta})" if delta else ""))
        parts.append(f"{'urgent' if urgent else 'not urgent'}: " + "; ".join(shown))
    return " / ".join(parts)


def explain(bench: Bench) -> None:
    """Each step's slowest statement with its plan (stderr)."""
    dialect = bench.engine.dialect.name
    for step, slow in bench.slow:
        progress(
            f"\n--- {step}: slowest statement, {_ms(slow.seconds)}{' (executemany)' if slow.many else ''}"
        )
        progress(_compact(slow.statement.strip()))
        if slow.many:
            continue
        prefixes = ["EXPLAIN QUERY PLAN "]
        if dialect == "postgresql":  # EXPLAIN ANALYZE runs it (undone); a repeated INSERT may conflict
            prefixes = ["EXPLAIN (ANALYZE, BUFFERS) ", "EXPLAIN "]
        for prefix in prefixes:
            with bench.app.app_context(), bench.scoped():
                try:
                    rows = (
                        db.session.connection()
                        .exec_driver_sql(prefix + slow.statement, slow.parameters)
                        .all()
                    )
                except SQLAlchemyError as error:  # a plan is a bonus: say why there is none
                    progress(
                        f"({prefix.strip()}: {error.__class__.__name__}: {str(error).splitlines()[0][:200]})"
                    )
                    db.session.rollback()
                    continue
                db.session.rollback()  # EXPLAIN ANALYZE of an INSERT, UPDATE or DELETE ran it: undone
            progress("\n".join(_compact(str(row[-1])) for row in rows))
            break


def _profile(bench: Bench) -> None:
    for urgent in (False, True):
        progress(f"\nprofiling one more {'urgent' if urgent else 'non-urgent'} publish to the whole school")
        body = _payload("Profiled", 0, "school", urgent)

        def call(body: dict[str, Any] = body) -> tuple[Measure, Any]:
            return bench.call("POST", "/api/announcements", json=body)

        profiled(call, top=25)


# --- the run -----------------------------------------------------------------------------------------


def _machine(app: Flask) -> str:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            database = f"PostgreSQL {db.session.scalar(text('SHOW server_version'))}"
        else:
            database = f"SQLite {db.session.scalar(text('SELECT sqlite_version()'))}"
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; {database}"


def build(app: Flask, students: int) -> tuple[GrownSchool, str]:
    started = time.perf_counter()
    with app.app_context(), platform_access("bench announcements"):
        upgrade()
        progress(f"migrated in {time.perf_counter() - started:.1f} s; seeding the demo school")
        password = seed(lambda _n: None).password
        assert password is not None
        progress(f"demo school after {time.perf_counter() - started:.1f} s; growing it")
        return grow(students), password


def measure_all(
    app: Flask, school: GrownSchool, password: str, options: argparse.Namespace, table: Table
) -> None:
    client = app.test_client()
    login = client.post("/api/auth/login", json={"email": ADMIN, "password": password})
    with app.app_context():
        engine = db.engine
    bench = Bench(app, client, engine, school, password)
    bench.headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    measured = 6 * options.repeat
    try:
        baseline, _ = bench.call("GET", "/api/auth/me")
        table.append(("baseline: GET /api/auth/me", f"{_ms(baseline.seconds)}, {baseline.count} statements"))
        progress(f"publishing {max(options.announcements - measured, 0)} announcements first")
        background(bench, max(options.announcements - measured, 0), table)
        analyzed = options.analyze if options.analyze is not None else engine.dialect.name == "postgresql"
        if analyzed:
            with app.app_context():
                _analyze()
        table.append(
            ("ANALYZE", "run after the build and the announcements" if analyzed else "not run (as the app)")
        )
        progress("measuring the publishes")
        first_class, year = school.classes[0]
        school_wide = publish(bench, "publish: whole school", "school", False, options.repeat, table)
        urgent = publish(bench, "publish urgent: whole school", "school", True, options.repeat, table)
        publish(bench, "publish: year group", "year", False, options.repeat, table, grade_level=year)
        publish(bench, "publish urgent: year group", "year", True, options.repeat, table, grade_level=year)
        one_class = publish(
            bench, "publish: one class", "class", False, options.repeat, table, class_id=str(first_class)
        )
        publish(
            bench,
            "publish urgent: one class",
            "class",
            True,
            options.repeat,
            table,
            class_id=str(first_class),
        )
        progress("the parent's feed")
        feed(bench, options.requests, table)
        progress("receipts")
        receipts(bench, school_wide.ids[0], table)
        progress("withdrawing")
        withdraw(bench, "withdraw: whole school", school_wide.ids[0], False, table)
        withdraw(bench, "withdraw urgent: whole school", urgent.ids[0], True, table)
        withdraw(bench, "withdraw: one class", one_class.ids[0], False, table)
        table.append(("statements against the audience", growth(bench.audiences)))
        if options.explain:
            explain(bench)
        if options.profile:
            _profile(bench)
    except Failed as failure:
        table.append(("**FAILED**", str(failure).replace("|", "/")))


def run(database_url: str, options: argparse.Namespace) -> None:
    app = create_app(
        settings_from(
            APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", **RELAXED, **FAST_HASHING
        )
    )
    try:
        started = time.perf_counter()
        school, password = build(app, options.students)
        seconds = time.perf_counter() - started
        table: Table = [
            (
                "build (migrate, seed, grow)",
                f"{seconds:,.1f} s: {school.students:,} students in {len(school.classes)} classes, "
                f"{school.parents:,} guardians ({school.families_of_two} with two children), "
                f"{school.staff} staff",
            )
        ]
        progress(f"built in {seconds:.1f} s; measuring")
        measure_all(app, school, password, options, table)
        total = time.perf_counter() - started
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        print(
            f"\nAnnouncements, {school.students:,} students; {_machine(app)}; whole run {total:,.0f} s; "
            f"load average at the end {load}\n"
        )
        print("| measure | figure |\n|---|---|")
        for name, figure in table:
            print(f"| {name} | {figure} |")
    finally:
        dispose_pools(app)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help="the PostgreSQL server to make a scratch database on (127.0.0.1 only)",
    )
    parser.add_argument("--students", type=int, default=2000, help="students in all (the demo has 60)")
    parser.add_argument("--repeat", type=int, default=3, help="publishes measured per audience and kind")
    parser.add_argument("--requests", type=int, default=200, help="feed and unread-count requests measured")
    parser.add_argument("--announcements", type=int, default=200, help="announcements in the school in all")
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        help="ANALYZE before measuring (default: PostgreSQL yes, as autovacuum would; SQLite no, as the app)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile two more whole-school publishes (not urgent, urgent)"
    )
    parser.add_argument("--explain", action="store_true", help="the plan of each step's slowest statement")
    args = parser.parse_args()
    if not 100 <= args.students <= 20_000:
        parser.error("--students: 100 to 20,000")
    if not 1 <= args.repeat <= 10 or not 10 <= args.requests <= 1000 or not 0 <= args.announcements <= 1000:
        parser.error("--repeat 1-10, --requests 10-1000, --announcements 0-1000")
    if args.database == "postgresql":
        server = make_url(args.database_url)
        if not server.drivername.startswith("postgresql") or server.host not in LOCAL_HOSTS:
            parser.error("--database-url: a PostgreSQL server on 127.0.0.1")
        with scratch_database(args.database_url, "homeroom_bench") as url:
            progress(f"scratch database {url.rsplit('/', 1)[-1]} (dropped at the end)")
            run(url, args)
    else:
        with tempfile.TemporaryDirectory(prefix="homeroom-announcements-") as folder:
            run(f"sqlite:///{folder}/announcements.db", args)


if __name__ == "__main__":
    main()
