"""The facts an answer may use, gathered through the features' own services with the caller's
AuthContext, so every rule about who sees what applies unchanged. A fact is one short sentence;
only facts (and knowledge-base entries) ever reach the language model.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby

from sqlalchemy import select

from backend import health_records as health
from backend.assistant.catalogue import DOMAIN_BY_NAME, DomainName
from backend.assistant.naming import StudentRef
from backend.assistant.timeframe import Period
from backend.assistant.understanding import Question
from backend.assistant.vocabulary import subject_words
from backend.attendance import AttendanceRangeQuery, AttendanceStatus, student_attendance
from backend.classes import SchoolClass, term_on
from backend.core.errors import Forbidden, NotFound
from backend.core.extensions import db
from backend.fees import InvoiceListQuery, list_invoices, student_balance
from backend.fees import format_money as money
from backend.grades import StudentGradeOut, StudentGradesOut, student_grades
from backend.tenancy import AuthContext, allowed

MAX_LINES = 10
DEFAULT_ATTENDANCE_DAYS = 30


@dataclass(frozen=True)
class Fact:
    text: str


Gatherer = Callable[[AuthContext, Question, list[StudentRef]], list[Fact]]


def day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def default_period(auth: AuthContext) -> Period:
    """This term so far, or the last 30 days when no term is on."""
    today = auth.today()
    term = term_on(auth, today)
    if term is not None:
        return Period(term.starts_on, today, f"this term so far ({day(term.starts_on)} to {day(today)})")
    start = today - timedelta(days=DEFAULT_ATTENDANCE_DAYS - 1)
    return Period(start, today, f"the last {DEFAULT_ATTENDANCE_DAYS} days ({day(start)} to {day(today)})")


def _class_names(auth: AuthContext, class_ids: set[object]) -> dict[object, str]:
    rows = db.session.execute(
        select(SchoolClass.id, SchoolClass.name).where(auth.owns(SchoolClass), SchoolClass.id.in_(class_ids))
    )
    return dict(rows.all())


# --- attendance -------------------------------------------------------------------------------------


def _attendance_of(auth: AuthContext, student: StudentRef, period: Period) -> list[Fact]:
    query = AttendanceRangeQuery.model_validate({"from": period.start, "to": period.end, "limit": 200})
    record = student_attendance(auth, student.id, query)
    names = _class_names(auth, {r.class_id for r in record.items if r.class_id})
    if period.single_day:
        if not record.items:
            return [Fact(f"{student.name}: no attendance was recorded {period.label}.")]
        marks = ", ".join(
            f"{names.get(r.class_id, 'the day') if r.class_id else 'the day'}: {r.status.replace('_', ' ')}"
            for r in record.items
        )
        return [Fact(f"{student.name} {period.label}: {marks}.")]
    s = record.summary
    rate = f"{s.attendance_rate:.1%}" if s.attendance_rate is not None else "not yet known"
    facts = [
        Fact(
            f"{student.name}, {period.label}: {s.present} present, {s.absent} absent, {s.late} late, "
            f"{s.excused} excused, {s.left_early} left early; attendance rate {rate}."
        )
    ]
    missed = [r for r in record.items if r.status != AttendanceStatus.PRESENT]
    for status, group in groupby(sorted(missed, key=lambda r: (r.status, r.date)), key=lambda r: r.status):
        days = sorted({r.date for r in group})
        shown = ", ".join(day(d) for d in days[:MAX_LINES]) + (" …" if len(days) > MAX_LINES else "")
        facts.append(Fact(f"{student.name} was {status.replace('_', ' ')} on {shown}."))
    return facts


def attendance_summary(auth: AuthContext, student: StudentRef) -> Fact:
    """One line: the student's attendance this term so far (or the last 30 days)."""
    period = default_period(auth)
    query = AttendanceRangeQuery.model_validate({"from": period.start, "to": period.end, "limit": 1})
    s = student_attendance(auth, student.id, query).summary
    rate = f"{s.attendance_rate:.1%}" if s.attendance_rate is not None else "not yet known"
    return Fact(
        f"{student.name}'s attendance {period.label}: rate {rate} ({s.absent} absent, {s.late} late)."
    )


def attendance(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    period = question.period or default_period(auth)
    return [fact for student in students for fact in _attendance_of(auth, student, period)]


# --- grades ----------------------------------------------------------------------------------------


def _percent(value: float | None, missing: str) -> str:
    return f"{value:.1f}%" if value is not None else missing


def _score(value: float) -> str:
    """A stored score as it reads: 18.5, 20 (not 18.50 or 20.0)."""
    return f"{Decimal(repr(value)).normalize():f}"


def subject_of(class_name: str) -> set[str]:
    """The canonical subjects a class's name or subject names ("Year 5 Maths" -> {"maths"})."""
    return set(subject_words(tuple(re.findall(r"[a-z]+", class_name.lower()))))


def _grade_line(name: str, grade: StudentGradeOut) -> Fact:
    score: str = grade.status
    if grade.score is not None:
        score = f"{_score(grade.score)}/{_score(grade.max_score)} ({_percent(grade.percentage, '')})"
    when = f", {day(grade.due_on)}" if grade.due_on else ""
    return Fact(f"{name} — {grade.title} ({grade.class_name}{when}): {score}.")


def weighted(items: list[StudentGradeOut]) -> float | None:
    """The weighted average of grades as term averages count them: exempt left out, missing as 0."""
    counted = [g for g in items if g.status != "exempt"]
    weight = sum(g.weight for g in counted)
    return round(sum(g.weight * (g.percentage or 0) for g in counted) / weight, 2) if weight else None


def _by_class(name: str, items: list[StudentGradeOut]) -> list[Fact]:
    averages = {c: weighted([g for g in items if g.class_name == c]) for c in {g.class_name for g in items}}
    return [
        Fact(f"{name} in {c}: weighted average {_percent(average, 'not yet known')}.")
        for c, average in sorted(averages.items())
    ]


def _summary(name: str, result: StudentGradesOut) -> list[Fact]:
    facts = [
        Fact(
            f"{name}, {term.term_name}: weighted average "
            f"{_percent(term.average_percentage, 'not yet known')} "
            f"({term.graded} graded, {term.missing} missing)."
        )
        for term in result.terms[:2]
    ]
    current = [g for g in result.items if g.term_id == result.terms[0].term_id] if result.terms else []
    return facts + (_by_class(name, current) if len({g.class_name for g in current}) > 1 else [])


def _class_subjects(auth: AuthContext, class_ids: set[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """Each class's canonical subjects, from its name and its subject ("5M", "Mathematics")."""
    rows = db.session.execute(
        select(SchoolClass.id, SchoolClass.name, SchoolClass.subject).where(
            auth.owns(SchoolClass), SchoolClass.id.in_(class_ids)
        )
    )
    return {class_id: subject_of(f"{name} {subject}") for class_id, name, subject in rows}


def _student_grades(auth: AuthContext, question: Question, student: StudentRef) -> list[Fact]:
    try:
        result = student_grades(auth, student.id, None)
    except Forbidden:
        return [
            Fact(f"Your link to {student.name} does not include grades; the school office can change that.")
        ]
    if not result.items:
        return [Fact(f"{student.name}: no grades are available to you yet.")]
    if not question.subjects:
        return _summary(student.name, result) + [_grade_line(student.name, g) for g in result.items[:5]]
    subjects = _class_subjects(auth, {g.class_id for g in result.items})
    asked = [g for g in result.items if subjects.get(g.class_id, set()) & set(question.subjects)]
    if not asked:
        wanted = " or ".join(s.title() for s in question.subjects)
        where = ", ".join(sorted({g.class_name for g in result.items}))
        return [Fact(f"{student.name} has no {wanted} grades that you can see; their grades are in {where}.")]
    return _by_class(student.name, asked) + [_grade_line(student.name, g) for g in asked[:5]]


def grades(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts = [fact for student in students for fact in _student_grades(auth, question, student)]
    if question.mentions("doing", "getting on", "coping", "progress", "going") and allowed(
        auth.role, "attendance.read"
    ):
        facts += [attendance_summary(auth, student) for student in students]
    return facts


# --- fees -----------------------------------------------------------------------------------------


def fees(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts: list[Fact] = []
    for student in students:
        try:
            balance = student_balance(auth, student.id)
        except NotFound:
            facts.append(
                Fact(f"Your link to {student.name} does not include fees; the school office can change that.")
            )
            continue
        c = auth.currency
        if balance.invoiced_cents == 0:
            facts.append(Fact(f"{student.name} has no issued invoices."))
            continue
        due = f"; next payment due {day(balance.next_due_date)}" if balance.next_due_date else ""
        facts.append(
            Fact(
                f"{student.name}: outstanding balance {money(balance.outstanding_cents, c)} of "
                f"{money(balance.invoiced_cents, c)} invoiced, {money(balance.paid_cents, c)} paid; "
                f"overdue {money(balance.overdue_cents, c)}{due}."
            )
        )
        open_invoices = list_invoices(auth, InvoiceListQuery(student_id=student.id, limit=50)).items
        for invoice in [i for i in open_invoices if i.outstanding_cents > 0 and i.status is not None][:5]:
            facts.append(
                Fact(
                    f"{student.name} — invoice {invoice.number}: "
                    f"{money(invoice.outstanding_cents, c)} outstanding, "
                    f"due {day(invoice.due_date)} ({str(invoice.status).replace('_', ' ')})."
                )
            )
    return facts


# --- health ---------------------------------------------------------------------------------------


def allergy(entry: dict[str, object]) -> str:
    text = f"{entry.get('allergen')} ({str(entry.get('severity', '')).replace('_', ' ')})"
    return f"{text}: {entry['response']}" if entry.get("response") else text


def health_facts(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts: list[Fact] = []
    for student in students:
        try:
            record = health.read(auth, student.id)  # audited as a view of the record, like the API's
        except Forbidden:
            facts.append(Fact(f"Your link to {student.name} does not include health information."))
            continue
        except NotFound:
            facts.append(Fact(f"{student.name} has no health record on file."))
            continue
        allergies = "; ".join(allergy(a) for a in record.allergies) or "none recorded"
        facts.append(Fact(f"{student.name} — allergies: {allergies}."))
        facts.append(Fact(f"{student.name} — alerts: {'; '.join(record.alerts) or 'none recorded'}."))
        if record.view == "full":
            facts.append(
                Fact(f"{student.name} — conditions: {'; '.join(record.conditions or []) or 'none recorded'}.")
            )
            medications = "; ".join(str(m.get("name")) for m in record.medications or []) or "none recorded"
            facts.append(Fact(f"{student.name} — medication: {medications}."))
    return facts


GATHERERS: dict[DomainName, Gatherer] = {
    "attendance": attendance,
    "grades": grades,
    "fees": fees,
    "health": health_facts,
}


def refusal(domain: DomainName) -> Fact:
    return Fact(f"{DOMAIN_BY_NAME[domain].title} is not something your role can see in Homeroom.")
