"""Facts about classes and the school rather than one student, for staff: a class's average, its
lowest attendance, missing grades, who was absent, how many students, who teaches what, and the
school's fee position for admins. Teachers get their own classes only, admins every class: the
same `visible_classes` and `visible_students` rules as the API's."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import func, select

from backend import health_records as health
from backend.assistant.facts import Fact, allergy, default_period
from backend.assistant.naming import ClassRef
from backend.assistant.timeframe import Period
from backend.assistant.understanding import Question
from backend.attendance import AttendanceRecord, AttendanceStatus, attendance_rate
from backend.classes import Enrollment
from backend.core.errors import Forbidden, NotFound
from backend.core.extensions import db
from backend.fees import format_money, student_balances
from backend.grades import Assessment, Grade
from backend.students import Student, visible_students
from backend.tenancy import AuthContext, Role

RANKED = 3  # lowest / highest: this many students per class
MAX_NAMES = 40
MAX_HEALTH_READS = 120
ClassGatherer = Callable[[AuthContext, Question, list[ClassRef], bool], list[Fact]]
Scores = dict[uuid.UUID, list[tuple[str, float, float]]]  # student -> (assessment, weight, percent)


def _names(auth: AuthContext, class_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Each class's enrolled students the caller may see: (id, "First Last (D-001)")."""
    rows = db.session.execute(
        select(
            Enrollment.class_id, Student.id, Student.first_name, Student.last_name, Student.admission_number
        )
        .join(Student, Student.id == Enrollment.student_id)
        .where(auth.owns(Student), visible_students(auth), Enrollment.class_id.in_(class_ids))
        .order_by(Student.last_name, Student.first_name)
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for class_id, student_id, first, last, number in rows:
        found[class_id].append((student_id, f"{first} {last} ({number})"))
    return found


def _scores(auth: AuthContext, class_id: uuid.UUID) -> tuple[list[Assessment], Scores]:
    """The class's assessments and each student's graded percentages (one query each)."""
    assessments = list(
        db.session.scalars(
            select(Assessment)
            .where(auth.owns(Assessment), Assessment.class_id == class_id)
            .order_by(Assessment.due_on)
        )
    )
    rows = db.session.execute(
        select(Grade.student_id, Grade.assessment_id, Grade.status, Grade.score).where(
            auth.owns(Grade), Grade.assessment_id.in_([a.id for a in assessments])
        )
    )
    by_id = {a.id: a for a in assessments}
    scores: Scores = defaultdict(list)
    for student_id, assessment_id, status, score in rows:
        if status != "exempt":
            a = by_id[assessment_id]
            scores[student_id].append((a.title, float(a.weight), float((score or 0) / a.max_score * 100)))
    return assessments, scores


def _weighted(rows: list[tuple[str, float, float]]) -> float | None:
    weight = sum(w for _t, w, _p in rows)
    return sum(w * p for _t, w, p in rows) / weight if weight else None


def _class_grades(
    auth: AuthContext, question: Question, c: ClassRef, roster: list[tuple[uuid.UUID, str]]
) -> list[Fact]:
    assessments, scores = _scores(auth, c.id)
    if not assessments:
        return [Fact(f"{c.name} has no assessments yet.")]
    named = [a for a in assessments if a.title.lower() in question.text.lower()]
    if named:
        facts = [_assessment_average(c, a, scores) for a in named]
        return facts + (_missing(c, named, scores, roster) if question.aims_at("missing") else [])
    average = _weighted([row for rows in scores.values() for row in rows])
    shown = f"{average:.1f}%" if average is not None else "not yet known"
    facts = [
        Fact(
            f"{c.name}: class average {shown} "
            f"(weighted, {len(roster)} students, {len(assessments)} assessments)."
        )
    ]
    facts += _missing(c, assessments, scores, roster) if question.aims_at("missing") else []
    per_student = {name: _weighted(scores.get(sid, [])) for sid, name in roster}
    ranked = sorted((avg, name) for name, avg in per_student.items() if avg is not None)
    return facts + _ranked(f"{c.name}, {{}} average", question, ranked, lambda avg: f"{avg:.1f}%")


def _assessment_average(c: ClassRef, a: Assessment, scores: Scores) -> Fact:
    marks = [p for rows in scores.values() for title, _w, p in rows if title == a.title]
    average = f"{sum(marks) / len(marks):.1f}%" if marks else "not yet known"
    return Fact(f"{c.name} — {a.title}: average {average} over {len(marks)} grades.")


def _missing(
    c: ClassRef, assessments: list[Assessment], scores: Scores, roster: list[tuple[uuid.UUID, str]]
) -> list[Fact]:
    facts = []
    for a in assessments:
        without = [name for sid, name in roster if a.title not in {t for t, _w, _p in scores.get(sid, [])}]
        if without:
            facts.append(Fact(f"{c.name} — {a.title}: no grade yet for {', '.join(without[:MAX_NAMES])}."))
    return facts or [Fact(f"{c.name}: no missing grades; every student has a grade for every assessment.")]


def class_grades(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    rosters = _names(auth, [c.id for c in classes])
    return [fact for c in classes for fact in _class_grades(auth, question, c, rosters.get(c.id, []))]


def _counts(
    auth: AuthContext, class_ids: list[uuid.UUID], period: Period
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]]:
    rows = db.session.execute(
        select(AttendanceRecord.class_id, AttendanceRecord.student_id, AttendanceRecord.status, func.count())
        .where(
            auth.owns(AttendanceRecord),
            AttendanceRecord.class_id.in_(class_ids),
            AttendanceRecord.on_date.between(period.start, period.end),
        )
        .group_by(AttendanceRecord.class_id, AttendanceRecord.student_id, AttendanceRecord.status)
    )
    counts: dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]] = defaultdict(dict)
    for class_id, student_id, status, n in rows:
        if class_id is not None:
            counts[(class_id, student_id)][status] = n
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _ranked(
    label: str, question: Question, values: list[tuple[float, str]], shown: Callable[[float], str]
) -> list[Fact]:
    """The lowest and highest of sorted (value, name) pairs, as asked; `label` has a {} for which."""
    facts = []
    if question.aims_at("lowest"):
        facts += [Fact(f"{label.format('lowest')}: {name}, {shown(v)}.") for v, name in values[:RANKED]]
    if question.aims_at("highest"):
        facts += [
            Fact(f"{label.format('highest')}: {name}, {shown(v)}.") for v, name in values[::-1][:RANKED]
        ]
    return facts


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


def _class_rates(
    c: ClassRef, period: Period, roster: dict[uuid.UUID, str], marks: dict[uuid.UUID, dict[str, int]]
) -> tuple[Fact, list[tuple[float, str]]]:
    """The class's rate over the period, and each student's (lowest first)."""
    totals: dict[str, int] = defaultdict(int)
    for per_status in marks.values():
        for status, n in per_status.items():
            totals[status] += n
    rate = attendance_rate(totals)
    shown = f"{rate:.1%}" if rate is not None else "not yet known (no marks)"
    absences = _plural(totals.get("absent", 0), "absence")
    rates = sorted((r, roster[sid]) for sid, per in marks.items() if (r := attendance_rate(per)) is not None)
    return Fact(f"{c.name}, {period.label}: attendance rate {shown}, {absences}."), rates


def class_attendance(
    auth: AuthContext, question: Question, classes: list[ClassRef], named: bool
) -> list[Fact]:
    """Who was absent (a day, or at least `threshold` days), each class's rate, the lowest rates
    (across all of them too when no class was named)."""
    period = question.period or default_period(auth)
    rosters = _names(auth, [c.id for c in classes])
    counts = _counts(auth, [c.id for c in classes], period)
    facts: list[Fact] = []
    everyone: list[tuple[float, str]] = []
    for c in classes:
        roster = dict(rosters.get(c.id, []))
        marks = {sid: counts[(c.id, sid)] for sid in roster if (c.id, sid) in counts}
        summary, rates = _class_rates(c, period, roster, marks)
        facts += [summary, *_absent_in(c, question, period, roster, marks)]
        facts += _ranked(f"{c.name}, {{}} attendance", question, rates, _percent)
        everyone += [(r, f"{name}, {c.name}") for r, name in rates]
    if not named and len(classes) > 1:
        scope = "In the school" if auth.role == Role.ADMIN else "In your classes"
        facts += _ranked(f"{scope}, {{}} attendance", question, sorted(everyone), _percent)
    return facts


def _absent_in(
    c: ClassRef,
    question: Question,
    period: Period,
    roster: dict[uuid.UUID, str],
    counts: dict[uuid.UUID, dict[str, int]],
) -> list[Fact]:
    asked_absent = re.search(r"\b(absent|away|off|missing)\b", question.text, re.IGNORECASE)
    if question.aims_at("lowest", "highest") and not asked_absent:
        return []
    least = question.threshold or 1
    absent = sorted(
        (
            (n, roster[sid])
            for sid, per in counts.items()
            if (n := per.get(AttendanceStatus.ABSENT.value, 0)) >= least
        ),
        key=lambda item: (-item[0], item[1]),
    )
    if not absent:
        return [Fact(f"{c.name}: nobody was absent on {least} or more days {period.label}.")]
    if period.single_day:
        return [
            Fact(f"{c.name}, absent {period.label}: {', '.join(name for _n, name in absent[:MAX_NAMES])}.")
        ]
    return [Fact(f"{c.name}: {name} absent on {_plural(n, 'day')}.") for n, name in absent[:MAX_NAMES]]


def class_roster(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """How many students (the school's for an admin asking generally), and who, when asked."""
    rosters = _names(auth, [c.id for c in classes])
    facts = []
    if auth.role == Role.ADMIN and not named:
        active = db.session.scalar(
            select(func.count()).select_from(Student).where(auth.owns(Student), Student.status == "active")
        )
        facts.append(Fact(f"The school has {active} active students, in {len(classes)} current classes."))
    for c in classes:
        roster = rosters.get(c.id, [])
        facts.append(
            Fact(f"{c.name} ({c.term}): {len(roster)} students, taught by {c.teacher or 'nobody yet'}.")
        )
        if question.aims_at("list"):
            facts.append(Fact(f"{c.name} students: {', '.join(name for _sid, name in roster[:MAX_NAMES])}."))
    return facts


def class_list(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """The classes and who teaches each ("who teaches Year 5 Maths?"); their students when asked."""
    if question.mentions("student", "pupil", "children", "kids", "who is in", "who's in"):
        return class_roster(auth, question, classes, named)
    sizes = {c: len(r) for c, r in _names(auth, [c.id for c in classes]).items()}
    who = "the school's" if auth.role == Role.ADMIN else "your"
    if not classes:
        return [Fact(f"None of {who} current classes.")]
    return [
        Fact(f"{c.name} ({c.term}): taught by {c.teacher or 'nobody yet'}, {sizes.get(c.id, 0)} students.")
        for c in classes
    ]


def school_fees(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """Admins: how many students owe, how many are overdue, and the largest overdue balances."""
    ids = list(
        db.session.scalars(auth.scoped(Student).where(visible_students(auth)).with_only_columns(Student.id))
    )
    balances = student_balances(auth, ids)
    owing = [b for b in balances.values() if b.outstanding_cents > 0]
    overdue = sorted((b for b in balances.values() if b.overdue_cents > 0), key=lambda b: -b.overdue_cents)
    c = auth.currency
    owed = format_money(sum(b.outstanding_cents for b in owing), c)
    late = format_money(sum(b.overdue_cents for b in overdue), c)
    facts = [
        Fact(
            f"{len(owing)} students owe {owed} in total; "
            f"{len(overdue)} students have an overdue balance ({late} overdue)."
        )
    ]
    names = dict(
        db.session.execute(
            select(
                Student.id,
                Student.first_name + " " + Student.last_name + " (" + Student.admission_number + ")",
            ).where(auth.owns(Student), Student.id.in_([b.student_id for b in overdue[:10]]))
        ).all()
    )
    facts += [
        Fact(f"Overdue: {names[b.student_id]}, {format_money(b.overdue_cents, c)}.") for b in overdue[:10]
    ]
    return facts


def _health_line(auth: AuthContext, student_id: uuid.UUID, name: str) -> Fact | None:
    try:
        record = health.read(auth, student_id)  # audited as a view of each record, like the API's
    except (Forbidden, NotFound):
        return None
    if not record.allergies and not record.alerts:
        return None
    allergies = "; ".join(allergy(a) for a in record.allergies) or "none recorded"
    return Fact(f"{name} — allergies: {allergies}; alerts: {'; '.join(record.alerts) or 'none recorded'}.")


def class_health(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """Staff: the students of the classes with allergies or alerts on record (each record read
    through health_records, so a teacher sees allergies and alerts only and every view is audited)."""
    rosters = _names(auth, [c.id for c in classes])
    if sum(len(r) for r in rosters.values()) > MAX_HEALTH_READS:
        return [Fact("That is too many students to read at once: name a class or a student.")]
    facts = []
    for c in classes:
        roster = rosters.get(c.id, [])
        lines = [line for sid, name in roster if (line := _health_line(auth, sid, name))]
        facts.append(
            Fact(f"{c.name}: allergies or alerts on record for {len(lines)} of {len(roster)} students.")
        )
        facts += lines
    return facts


CLASS_GATHERERS: dict[str, ClassGatherer] = {
    "health": class_health,
    "grades": class_grades,
    "attendance": class_attendance,
    "enrollment": class_roster,
    "classes": class_list,
    "fees": school_fees,
}
