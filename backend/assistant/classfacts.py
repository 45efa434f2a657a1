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

from backend.assistant.facts import Fact, default_period
from backend.assistant.naming import ClassRef
from backend.assistant.timeframe import Period
from backend.assistant.understanding import Question
from backend.attendance import AttendanceRecord, AttendanceStatus, attendance_rate
from backend.classes import Enrollment
from backend.core.extensions import db
from backend.grades import Assessment, Grade
from backend.students import Student, visible_students
from backend.tenancy import AuthContext, Role

RANKED = 3  # lowest / highest: this many students per class
MAX_NAMES = 40
MAX_HEALTH_READS = 120
PER_CLASS_LINES = 12
ClassGatherer = Callable[[AuthContext, Question, list[ClassRef], bool], list[Fact]]
# student -> (assessment, weight, percent, status); a missing grade counts 0, an exempt one not at all
Scores = dict[uuid.UUID, list[tuple[str, float, float, str]]]


def class_rosters(
    auth: AuthContext, class_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
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
        a = by_id[assessment_id]
        percent = float((score or 0) / a.max_score * 100)
        scores[student_id].append((a.title, float(a.weight), percent, status))
    return assessments, scores


def _weighted(rows: list[tuple[str, float, float, str]]) -> float | None:
    counted = [(w, p) for _t, w, p, status in rows if status != "exempt"]
    weight = sum(w for w, _p in counted)
    return sum(w * p for w, p in counted) / weight if weight else None


def _class_grades(
    auth: AuthContext, question: Question, c: ClassRef, roster: list[tuple[uuid.UUID, str]]
) -> list[Fact]:
    assessments, scores = _scores(auth, c.id)
    if not assessments:
        return [Fact(f"{c.name} has no assessments yet.")]
    named = [a for a in assessments if re.search(rf"\b{re.escape(a.title)}\b", question.text, re.I)]
    if named:
        return [fact for a in named for fact in _one_assessment(c, a, question, scores, roster)]
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


def _one_assessment(
    c: ClassRef, a: Assessment, question: Question, scores: Scores, roster: list[tuple[uuid.UUID, str]]
) -> list[Fact]:
    """An assessment's average over its graded marks; the missing, lowest and highest when asked."""
    names = dict(roster)
    marks = sorted(
        (p, names[sid])
        for sid, rows in scores.items()
        for title, _w, p, status in rows
        if title == a.title and status == "graded" and sid in names
    )
    average = f"{sum(p for p, _n in marks) / len(marks):.1f}%" if marks else "not yet known"
    facts = [Fact(f"{c.name} — {a.title}: average {average} over {len(marks)} grades.")]
    facts += _missing(c, [a], scores, roster) if question.aims_at("missing") else []
    return facts + _ranked(f"{c.name} — {a.title}, {{}}", question, marks, lambda p: f"{p:.1f}%")


def _missing(
    c: ClassRef, assessments: list[Assessment], scores: Scores, roster: list[tuple[uuid.UUID, str]]
) -> list[Fact]:
    facts = []
    for a in assessments:
        given = {
            sid
            for sid, name in roster
            for t, _w, _p, status in scores.get(sid, [])
            if t == a.title and status != "missing"
        }
        without = [name for sid, name in roster if sid not in given]
        if without:
            facts.append(Fact(f"{c.name} — {a.title}: no grade yet for {', '.join(without[:MAX_NAMES])}."))
    return facts or [Fact(f"{c.name}: no missing grades; every student has a grade for every assessment.")]


def class_grades(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    rosters = class_rosters(auth, [c.id for c in classes])
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
    rosters = class_rosters(auth, [c.id for c in classes])
    counts = _counts(auth, [c.id for c in classes], period)
    facts: list[Fact] = []
    everyone: list[tuple[float, str]] = []
    for c in classes:
        roster = dict(rosters.get(c.id, []))
        marks = {sid: counts[(c.id, sid)] for sid in roster if (c.id, sid) in counts}
        summary, rates = _class_rates(c, period, roster, marks)
        everyone += [(r, f"{name}, {c.name}") for r, name in rates]
        if named or len(classes) <= PER_CLASS_LINES:  # a whole school: its figures, not 60 lists
            facts += [summary, *_absent_in(c, question, period, roster, marks)]
            facts += _ranked(f"{c.name}, {{}} attendance", question, rates, _percent)
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
        days = "" if period.single_day else f"on {least} or more days "
        return [Fact(f"{c.name}: nobody was absent {days}{period.label}.")]
    if period.single_day:
        return [
            Fact(f"{c.name}, absent {period.label}: {', '.join(name for _n, name in absent[:MAX_NAMES])}.")
        ]
    return [Fact(f"{c.name}: {name} absent on {_plural(n, 'day')}.") for n, name in absent[:MAX_NAMES]]


def class_roster(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """How many students (the school's for an admin asking generally), and who, when asked."""
    rosters = class_rosters(auth, [c.id for c in classes])
    facts = []
    if auth.role == Role.ADMIN and not named:
        active = db.session.scalar(
            select(func.count()).select_from(Student).where(auth.owns(Student), Student.status == "active")
        )
        facts.append(
            Fact(
                f"The school has {_plural(active or 0, 'active student')}, in {len(classes)} current classes."
            )
        )
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
    sizes = {c: len(r) for c, r in class_rosters(auth, [c.id for c in classes]).items()}
    who = "the school's" if auth.role == Role.ADMIN else "your"
    if not classes:
        return [Fact(f"None of {who} current classes.")]
    return [
        Fact(f"{c.name} ({c.term}): taught by {c.teacher or 'nobody yet'}, {sizes.get(c.id, 0)} students.")
        for c in classes
    ]
