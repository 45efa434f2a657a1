"""The demo school's data as the assistant's evaluation reads it: plain queries, never the
assistant. A child's balance is its issued invoices less its payments not reversed; an attendance
rate counts present, late and left-early marks over every mark but excused ones; an average weights
each assessment as stored (exempt grades left out, missing ones as 0)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from backend.attendance import AttendanceRecord
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term
from backend.core.dates import today_in
from backend.core.extensions import db
from backend.demo.seed import SLUG
from backend.fees import Invoice, InvoiceLine, Payment, PaymentReversal
from backend.grades import Assessment, Grade
from backend.schools import School
from backend.students import Student

ATTENDED = ("present", "late", "left_early")


@dataclass(frozen=True)
class Pupil:
    id: uuid.UUID
    first: str
    last: str
    adm: str
    class_id: uuid.UUID

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Room:
    id: uuid.UUID
    name: str
    subject: str
    teacher: str
    teacher_email: str


class Demo:
    """The demo school's data, read once per evaluation run."""

    def __init__(self) -> None:
        school = db.session.scalar(select(School).where(School.slug == SLUG))
        if school is None:
            raise LookupError("the demo school is not seeded (flask demo seed)")
        self.school = school
        self.today = today_in(school.timezone)
        term = db.session.scalar(
            select(Term).where(
                Term.school_id == school.id, Term.starts_on <= self.today, Term.ends_on >= self.today
            )
        )
        self.term_start: date = term.starts_on if term else self.today
        rooms = db.session.execute(
            select(SchoolClass.id, SchoolClass.name, SchoolClass.subject, User.full_name, User.email)
            .join(User, User.id == SchoolClass.teacher_id)
            .where(SchoolClass.school_id == school.id)
            .order_by(SchoolClass.name)
        )
        self.rooms = [Room(*row) for row in rooms]
        pupils = db.session.execute(
            select(
                Student.id,
                Student.first_name,
                Student.last_name,
                Student.admission_number,
                Enrollment.class_id,
            )
            .join(Enrollment, Enrollment.student_id == Student.id)
            .where(Student.school_id == school.id)
            .order_by(Student.admission_number)
        )
        self.pupils = [Pupil(*row) for row in pupils]
        self.marks = self._marks()
        self.grades = self._grades()

    def _marks(self) -> dict[uuid.UUID, Counter[str]]:
        rows = db.session.execute(
            select(AttendanceRecord.student_id, AttendanceRecord.status, func.count())
            .where(
                AttendanceRecord.school_id == self.school.id,
                AttendanceRecord.on_date.between(self.term_start, self.today),
            )
            .group_by(AttendanceRecord.student_id, AttendanceRecord.status)
        )
        marks: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
        for student_id, status, n in rows:
            marks[student_id][status] = n
        return marks

    def _grades(self) -> dict[uuid.UUID, list[tuple[Assessment, Grade]]]:
        rows = db.session.execute(
            select(Assessment, Grade)
            .join(Grade, Grade.assessment_id == Assessment.id)
            .where(Assessment.school_id == self.school.id)
            .order_by(Assessment.due_on)
        )
        found: dict[uuid.UUID, list[tuple[Assessment, Grade]]] = defaultdict(list)
        for assessment, grade in rows:
            found[grade.student_id].append((assessment, grade))
        return found

    def room(self, subject: str | None = None, class_id: uuid.UUID | None = None) -> Room:
        return next(r for r in self.rooms if r.subject == subject or r.id == class_id)

    def rate(self, pupil: Pupil) -> float:
        return self.rate_of(self.marks[pupil.id])

    @staticmethod
    def rate_of(counts: Counter[str]) -> float:
        counted = sum(counts.values()) - counts["excused"]
        return round(sum(counts[s] for s in ATTENDED) / counted, 4) if counted else 0.0

    def average(self, rows: Iterable[tuple[Assessment, Grade]]) -> str:
        weight = points = Decimal(0)
        for assessment, grade in rows:
            if grade.status != "exempt":
                weight += assessment.weight
                points += assessment.weight * (grade.score or 0) / assessment.max_score
        return f"{round(float(points / weight * 100), 2):.1f}%" if weight else "not yet known"

    def in_room(self, room: Room) -> list[Pupil]:
        return [p for p in self.pupils if p.class_id == room.id]

    def distinct(self, pool: list[Pupil]) -> Pupil:
        """The first pupil of `pool` whose first name, surname and full name no one else in it shares."""
        firsts = Counter(p.first for p in pool)
        lasts = Counter(p.last for p in pool)
        unique = [p for p in pool if firsts[p.first] == 1 and lasts[p.last] == 1]
        return (unique or [p for p in pool if firsts[p.first] == 1] or pool)[0]

    def balance(self, pupil: Pupil) -> str:
        """Issued invoices less payments not reversed, as the school's statements show it."""
        issued = select(Invoice.id).where(Invoice.student_id == pupil.id, Invoice.state == "issued")
        billed = db.session.scalar(
            select(func.coalesce(func.sum(InvoiceLine.amount_cents), 0)).where(
                InvoiceLine.invoice_id.in_(issued)
            )
        )
        paid = db.session.scalar(
            select(func.coalesce(func.sum(Payment.amount_cents), 0))
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(Payment.invoice_id.in_(issued), PaymentReversal.id.is_(None))
        )
        return f"£{(int(billed or 0) - int(paid or 0)) / 100:,.2f}"

    def next_due(self, pupil: Pupil) -> str:
        """The earliest due date on or after today of the pupil's issued invoices, as answers write
        dates ("Thu 17 Dec 2026")."""
        due = db.session.scalar(
            select(func.min(Invoice.due_date)).where(
                Invoice.student_id == pupil.id, Invoice.state == "issued", Invoice.due_date >= self.today
            )
        )
        return f"{due:%a} {due.day} {due:%b %Y}" if due else "no payment due"

    def overdue_count(self) -> int:
        """Students with an issued invoice past its due date and not fully paid."""
        paid = (
            select(func.coalesce(func.sum(Payment.amount_cents), 0))
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(Payment.invoice_id == Invoice.id, PaymentReversal.id.is_(None))
            .scalar_subquery()
        )
        billed = (
            select(func.coalesce(func.sum(InvoiceLine.amount_cents), 0))
            .where(InvoiceLine.invoice_id == Invoice.id)
            .scalar_subquery()
        )
        owing = db.session.scalars(
            select(Invoice.student_id).where(
                Invoice.school_id == self.school.id,
                Invoice.state == "issued",
                Invoice.due_date < self.today,
                billed > paid,
            )
        )
        return len(set(owing))
