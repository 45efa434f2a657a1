"""The facts an answer may use, gathered through the features' own services with the caller's
AuthContext, so every rule about who sees what applies unchanged. A fact is one short sentence;
only facts (and knowledge-base entries) ever reach the language model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby

from sqlalchemy import func, select

from backend import health_records as health
from backend.assistant.catalogue import DOMAIN_BY_NAME, DomainName
from backend.assistant.subjects import StudentRef
from backend.assistant.understanding import Period, Question
from backend.attendance import AttendanceRangeQuery, AttendanceRecord, AttendanceStatus, student_attendance
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, term_on, visible_classes
from backend.core.errors import Forbidden, NotFound
from backend.core.extensions import db
from backend.fees import InvoiceListQuery, list_invoices, student_balance
from backend.fees import format_money as money
from backend.grades import StudentGradeOut, StudentGradesOut, student_grades
from backend.students import Student, guardian_link, list_guardians, visible_student, visible_students
from backend.tenancy import AuthContext, Role, allowed

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


def _absentees(auth: AuthContext, question: Question, period: Period) -> list[Fact]:
    """Staff, no student named: who was absent in the period (at least `threshold` days)."""
    least = question.threshold or 1
    days = func.count(func.distinct(AttendanceRecord.on_date))
    rows = db.session.execute(
        select(Student.first_name, Student.last_name, Student.admission_number, days)
        .join(AttendanceRecord, AttendanceRecord.student_id == Student.id)
        .where(
            auth.owns(Student),
            visible_students(auth),
            auth.owns(AttendanceRecord),
            AttendanceRecord.status == AttendanceStatus.ABSENT.value,
            AttendanceRecord.on_date.between(period.start, period.end),
        )
        .group_by(Student.id, Student.first_name, Student.last_name, Student.admission_number)
        .having(days >= least)
        .order_by(days.desc(), Student.last_name, Student.first_name)
        .limit(25)
    ).all()
    scope = "in the school" if auth.role == Role.ADMIN else "in your classes"
    if not rows:
        return [Fact(f"No student {scope} was absent on {least} or more days {period.label}.")]
    facts = [Fact(f"Students {scope} absent on {least} or more days {period.label}: {len(rows)}.")]
    facts += [
        Fact(f"{first} {last} ({number}): absent on {n} day{'s' * (n != 1)}.")
        for first, last, number, n in rows
    ]
    return facts


def attendance(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    period = question.period or default_period(auth)
    if not students:
        return _absentees(auth, question, period) if auth.role != Role.PARENT else []
    return [fact for student in students for fact in _attendance_of(auth, student, period)]


# --- grades ----------------------------------------------------------------------------------------


def _percent(value: float | None, missing: str) -> str:
    return f"{value:.1f}%" if value is not None else missing


def _score(value: float) -> str:
    """A stored score as it reads: 18.5, 20 (not 18.50 or 20.0)."""
    return f"{Decimal(repr(value)).normalize():f}"


def _grade_line(name: str, grade: StudentGradeOut) -> Fact:
    score: str = grade.status
    if grade.score is not None:
        score = f"{_score(grade.score)}/{_score(grade.max_score)} ({_percent(grade.percentage, '')})"
    when = f", {day(grade.due_on)}" if grade.due_on else ""
    return Fact(f"{name} — {grade.title} ({grade.class_name}{when}): {score}.")


def _summary(name: str, result: StudentGradesOut, subject: list[StudentGradeOut]) -> list[Fact]:
    """The subject's average when the question names one (maths), else the latest terms'."""
    if subject:
        scored = [g.percentage for g in subject if g.percentage is not None]
        average = sum(scored) / len(scored) if scored else None
        return [Fact(f"{name} in {subject[0].class_name}: average {_percent(average, 'not yet known')}.")]
    return [
        Fact(
            f"{name}, {term.term_name}: weighted average "
            f"{_percent(term.average_percentage, 'not yet known')} "
            f"({term.graded} graded, {term.missing} missing)."
        )
        for term in result.terms[:2]
    ]


def grades(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts: list[Fact] = []
    for student in students:
        result = student_grades(auth, student.id, None)
        subject = [g for g in result.items if set(g.class_name.lower().split()) & set(question.words)]
        if not result.items:
            facts.append(Fact(f"{student.name}: no grades are available to you yet."))
            continue
        facts += _summary(student.name, result, subject)
        facts += [_grade_line(student.name, g) for g in (subject or result.items)[:5]]
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


def _allergy(entry: dict[str, object]) -> str:
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
        allergies = "; ".join(_allergy(a) for a in record.allergies) or "none recorded"
        facts.append(Fact(f"{student.name} — allergies: {allergies}."))
        facts.append(Fact(f"{student.name} — alerts: {'; '.join(record.alerts) or 'none recorded'}."))
        if record.view == "full":
            facts.append(
                Fact(f"{student.name} — conditions: {'; '.join(record.conditions or []) or 'none recorded'}.")
            )
            medications = "; ".join(str(m.get("name")) for m in record.medications or []) or "none recorded"
            facts.append(Fact(f"{student.name} — medication: {medications}."))
    return facts


# --- classes, enrollment, guardians -----------------------------------------------------------------


def classes(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    staff = auth.role != Role.PARENT
    if not students:
        if not staff:
            return []
        enrolled = select(func.count()).where(Enrollment.class_id == SchoolClass.id).scalar_subquery()
        rows = db.session.execute(
            visible_classes(auth)
            .with_only_columns(SchoolClass.name, Term.name, User.full_name, enrolled)
            .join(Term, Term.id == SchoolClass.term_id)
            .outerjoin(User, User.id == SchoolClass.teacher_id)
            .where(Term.ends_on >= auth.today())
            .order_by(SchoolClass.name)
            .limit(30)
        ).all()
        who = "the school" if auth.role == Role.ADMIN else "you"
        if not rows:
            return [Fact(f"No current classes for {who}.")]
        return [
            Fact(f"{name} ({term}): taught by {teacher or 'nobody yet'}, {n} students.")
            for name, term, teacher, n in rows
        ]
    facts = []
    for student in students:
        visible_student(auth, student.id)
        rows = db.session.execute(
            select(SchoolClass.name, SchoolClass.subject, Term.name, User.full_name)
            .join(Enrollment, Enrollment.class_id == SchoolClass.id)
            .join(Term, Term.id == SchoolClass.term_id)
            .outerjoin(User, User.id == SchoolClass.teacher_id)
            .where(auth.owns(SchoolClass), Enrollment.student_id == student.id, Term.ends_on >= auth.today())
            .order_by(SchoolClass.name)
        ).all()
        if not rows:
            facts.append(Fact(f"{student.name} is not enrolled in any current class."))
        for name, subject, term, teacher in rows:
            taught = f", taught by {teacher}" if staff and teacher else ""
            facts.append(Fact(f"{student.name} is in {name} ({subject}, {term}){taught}."))
    return facts


def enrollment(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts = []
    for ref in students:
        student = visible_student(auth, ref.id)
        left = f", left on {day(student.left_on)}" if student.left_on else ""
        facts.append(
            Fact(
                f"{ref.name}: admission number {student.admission_number}, "
                f"grade level {student.grade_level}, "
                f"status {student.status}, enrolled on {day(student.enrolled_on)}{left}."
            )
        )
    return facts


def guardians(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts = []
    for student in students:
        if allowed(auth.role, "guardians.read"):
            links = list_guardians(auth, student.id)
            if not links:
                facts.append(Fact(f"{student.name} has no linked guardians."))
            for g in links:
                primary = ", primary contact" if g.is_primary else ""
                facts.append(Fact(f"{student.name} — {g.full_name} ({g.relationship}{primary}), {g.email}."))
            continue
        link = guardian_link(auth, student.id)
        if link is not None:
            yes = {True: "yes", False: "no"}
            facts.append(
                Fact(
                    f"You are linked to {student.name} as {link.relationship}"
                    f"{' (primary contact)' if link.is_primary else ''}; you can see fees: "
                    f"{yes[link.can_view_finance]}; health information: {yes[link.can_view_health]}."
                )
            )
    return facts


GATHERERS: dict[DomainName, Gatherer] = {
    "attendance": attendance,
    "grades": grades,
    "fees": fees,
    "health": health_facts,
    "classes": classes,
    "enrollment": enrollment,
    "guardians": guardians,
}


def refusal(domain: DomainName) -> Fact:
    return Fact(f"{DOMAIN_BY_NAME[domain].title} is not something your role can see in Homeroom.")
