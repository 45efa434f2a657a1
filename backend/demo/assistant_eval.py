"""The assistant's evaluation set (`backend/assistant/evaluation`) run on the demo school.

Every placeholder a case uses is filled here from the demo school's database with plain queries,
never from the assistant: the child of `parent7` is D-007, its balance is its issued invoices less
its payments, its attendance rate counts present, late and left-early marks over every mark but
excused ones, averages weight each assessment as stored. `run` asks every case through the HTTP
API as its user and judges the answer. `tests/assistant/test_evaluation.py` runs it offline and
against a stand-in model; `bench/assistant_eval.py` against a real model, writing the report.
The app must allow the questions: ASSISTANT_RATE_LIMIT at least EVALUATION_RATE_LIMIT.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import func, select

from backend.assistant import EvaluationCase, EvaluationResult, judge
from backend.attendance import AttendanceRecord
from backend.core.extensions import db
from backend.demo.eval_data import Demo, Pupil, Room
from backend.health_records import HealthRecord

# The placeholders a case may use, by who asks (see `placeholders`):
#  everyone: {me} (the asker's email), {today}, {week_start} (this week's Monday, "30 November")
#  parentN (child D-00N): {child} {child_last} {child_full} {child_lower} {child_typo} {adm}
#    {adm_compact} {class} {subject} {other_subject} {teacher} {balance} {invoice} {next_due} {rate}
#    {today_mark} {average} (published grades) {latest} {latest_score} {health}, and another
#    family's child {other_full} {other_first} {other_adm}
#  teacherN: {my_class} {my_subject} {other_class} {other_subject} {other_teacher}, a student of
#    theirs {student...} (as the child's, plus {student_rate} {student_average} ...), {class_size}
#    {class_average} {class_rate} {lowest_rate_student} {lowest_rate}, another class's {not_mine_full}
#    {not_mine_adm}
#  admin: {student_count} {class_count} {maths_teacher} {english_teacher} {maths_size} {english_size}
#    {maths_average} {english_average} {maths_rate} {english_rate}, a student {student...}
#    {student_balance} {student_class} {student_health}, {overdue_count}, the school's
#    {lowest_rate_student} {lowest_rate}
DOMAIN = "demo-school.example.org"
EVALUATION_RATE_LIMIT = "1000 per minute;10000 per day"
Progress = Callable[[int], None]


def typo(name: str) -> str:
    """A one-letter slip: the third letter doubled ("Baker" -> "Bakker")."""
    return name[:3] + name[2] + name[3:] if len(name) >= 3 else name + name[-1]


def _score(value: Decimal | None) -> str:
    return f"{Decimal(value or 0).normalize():f}"


def _student(demo: Demo, pupil: Pupil, prefix: str, *, published_only: bool = False) -> dict[str, str]:
    rows = [(a, g) for a, g in demo.grades[pupil.id] if a.published or not published_only]
    latest = max(rows, key=lambda row: row[0].due_on or date.min) if rows else None
    longer = pupil.last if len(pupil.last) >= len(pupil.first) else pupil.first
    values = {
        "": pupil.first,
        "_first": pupil.first,
        "_last": pupil.last,
        "_full": pupil.full,
        "_lower": pupil.full.lower(),
        "_typo": pupil.full.replace(longer, typo(longer)),
        "_adm": pupil.adm,
        "_adm_compact": pupil.adm.replace("-", ""),
        "_rate": f"{demo.rate(pupil):.1%}",
        "_average": demo.average(rows),
        "_latest": latest[0].title if latest else "",
        "_latest_score": f"{_score(latest[1].score)}/{_score(latest[0].max_score)}" if latest else "",
    }
    return {f"{prefix}{key}": value for key, value in values.items()}


def _room_values(demo: Demo, room: Room, prefix: str) -> dict[str, str]:
    pupils = demo.in_room(room)
    lowest = min(pupils, key=lambda p: (demo.rate(p), f"{p.full} ({p.adm})"))
    rows = [row for p in pupils for row in demo.grades[p.id]]
    marks: Counter[str] = sum((demo.marks[p.id] for p in pupils), Counter())
    return {
        f"{prefix}_rate": f"{demo.rate_of(marks):.1%}",
        f"{prefix}_size": str(len(pupils)),
        f"{prefix}_average": demo.average(rows),
        f"{prefix}_lowest_rate_student": lowest.full,
        f"{prefix}_lowest_rate": f"{demo.rate(lowest):.1%}",
    }


def parent_values(demo: Demo, number: int) -> dict[str, str]:
    child = next(p for p in demo.pupils if p.adm == f"D-{number:03d}")
    room = demo.room(class_id=child.class_id)
    other_room = next(r for r in demo.rooms if r.id != room.id)
    other = next(p for p in demo.pupils if {p.first, p.last}.isdisjoint({child.first, child.last}))
    today = db.session.scalar(
        select(AttendanceRecord.status).where(
            AttendanceRecord.student_id == child.id, AttendanceRecord.on_date == demo.today
        )
    )
    record = db.session.scalar(
        select(func.count()).select_from(HealthRecord).where(HealthRecord.student_id == child.id)
    )
    values = {
        key.replace("student", "child", 1): v
        for key, v in _student(demo, child, "student", published_only=True).items()
    }
    values |= {
        "adm": child.adm,
        "adm_compact": child.adm.replace("-", ""),
        "class": room.name,
        "subject": room.subject,
        "other_subject": other_room.subject,
        "teacher": room.teacher,
        "balance": demo.balance(child),
        "invoice": f"INV-{number:04d}",
        "next_due": demo.next_due(child),
        "rate": values["child_rate"],
        "average": values["child_average"],
        "latest": values["child_latest"],
        "latest_score": values["child_latest_score"],
        "today_mark": today.replace("_", " ") if today else "no attendance",
        "health": "Peanuts" if record else "no health record",
        "other_full": other.full,
        "other_first": other.first,
        "other_adm": other.adm,
    }
    return values


def teacher_values(demo: Demo, email: str) -> dict[str, str]:
    room = next(r for r in demo.rooms if r.teacher_email == email)
    other_room = next(r for r in demo.rooms if r.id != room.id)
    mine = demo.in_room(room)
    names = {part for p in mine for part in (p.first, p.last)}
    stranger = next(p for p in demo.in_room(other_room) if {p.first, p.last}.isdisjoint(names))
    values = _student(demo, demo.distinct(mine), "student")
    room_values = _room_values(demo, room, "class")
    return values | {
        "my_class": room.name,
        "my_subject": room.subject,
        "other_class": other_room.name,
        "other_subject": other_room.subject,
        "other_teacher": other_room.teacher,
        "class_size": room_values["class_size"],
        "class_rate": room_values["class_rate"],
        "class_average": room_values["class_average"],
        "lowest_rate_student": room_values["class_lowest_rate_student"],
        "lowest_rate": room_values["class_lowest_rate"],
        "not_mine_full": stranger.full,
        "not_mine_adm": stranger.adm,
    }


def admin_values(demo: Demo) -> dict[str, str]:
    pupil = demo.distinct(demo.pupils)
    lowest = min(demo.pupils, key=lambda p: (demo.rate(p), f"{p.full} ({p.adm})"))
    values = _student(demo, pupil, "student")
    for room in demo.rooms:
        subject = room.subject.lower()
        values |= {f"{subject}_teacher": room.teacher}
        values |= _room_values(demo, room, subject)
    record = db.session.scalar(
        select(func.count()).select_from(HealthRecord).where(HealthRecord.student_id == pupil.id)
    )
    return values | {
        "student_count": str(len(demo.pupils)),
        "class_count": str(len(demo.rooms)),
        "student_balance": demo.balance(pupil),
        "student_class": demo.room(class_id=pupil.class_id).name,
        "student_health": "Peanuts" if record else "no health record",
        "overdue_count": str(demo.overdue_count()),
        "lowest_rate_student": lowest.full,
        "lowest_rate": f"{demo.rate(lowest):.1%}",
    }


def placeholders(demo: Demo, who: str) -> dict[str, str]:
    """Every placeholder a case asked by `who` may use, from the demo school's data."""
    monday = demo.today - timedelta(days=demo.today.weekday())
    common = {
        "me": f"{who}@{DOMAIN}",
        "today": f"{demo.today.day} {demo.today:%B %Y}",
        "week_start": f"{monday.day} {monday:%B}",
    }
    if who.startswith("parent"):
        return common | parent_values(demo, int(who.removeprefix("parent")))
    if who.startswith("teacher"):
        return common | teacher_values(demo, f"{who}@{DOMAIN}")
    return common | admin_values(demo)


def run(
    app: Flask,
    password: str,
    cases: Iterable[EvaluationCase],
    progress: Progress | None = None,
) -> list[EvaluationResult]:
    """Ask every case through the HTTP API as its user; one judged result per case."""
    cases = list(cases)
    client = app.test_client()
    tokens: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    results = []
    with app.app_context():
        demo = Demo()
        for who in sorted({case.who for case in cases}):
            values[who] = placeholders(demo, who)
    for case in cases:
        if case.who not in tokens:
            login = client.post(
                "/api/auth/login", json={"email": f"{case.who}@{DOMAIN}", "password": password}
            )
            tokens[case.who] = login.get_json()["access_token"]
        response = client.post(
            "/api/assistant/messages",
            json={"message": case.question.format(**values[case.who])},
            headers={"Authorization": f"Bearer {tokens[case.who]}"},
        )
        if response.status_code != 200:  # a 429: raise ASSISTANT_RATE_LIMIT for the run
            raise RuntimeError(f"{case.who}: HTTP {response.status_code}: {response.get_data(as_text=True)}")
        results.append(judge(case, values[case.who], response.get_json()))
        if progress is not None:
            progress(1)
    return results
