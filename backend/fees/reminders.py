"""Fee reminders (`flask fees remind`, daily): guardians who may see a child's fees get an email
for each issued invoice with money outstanding that falls due within FEE_REMINDER_DAYS, and again
once it is overdue; never twice for the same invoice, stage and guardian."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from backend import mail
from backend.auth import User
from backend.config import Settings
from backend.core.dates import today_in
from backend.core.extensions import db
from backend.fees.balances import format_money, totals
from backend.fees.models import Invoice, InvoiceState
from backend.mail import MailKind
from backend.notifications import opted_in
from backend.schools import School
from backend.students import GuardianLink, Student

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Reminded:
    schools: int
    invoices: int
    queued: int


def _stage(due: date, today: date, days: int) -> tuple[str, str]:
    if due < today:
        return "overdue", "is overdue"
    left = (due - today).days
    return "due_soon", "is due today" if left == 0 else f"is due in {left} day{'s' * (left != 1)}"


def _school(settings: Settings, school: School) -> tuple[int, int]:
    """One school's reminders, queued in one transaction; (invoices, messages)."""
    today = today_in(school.timezone)
    rows = db.session.execute(
        select(Invoice, Student.first_name, Student.last_name)
        .join(Student, Student.id == Invoice.student_id)
        .where(
            Invoice.school_id == school.id,
            Invoice.state == InvoiceState.ISSUED.value,
            Invoice.due_date <= today + timedelta(days=settings.fee_reminder_days),
        )
    ).all()
    sums = totals(invoice.id for invoice, _first, _last in rows)
    owing = [(i, f"{first} {last}") for i, first, last in rows if sums[i.id].outstanding > 0]
    guardians = db.session.execute(
        select(GuardianLink.student_id, User.id, User.email, User.full_name)
        .join(User, User.id == GuardianLink.user_id)
        .where(
            GuardianLink.school_id == school.id,
            GuardianLink.student_id.in_({i.student_id for i, _name in owing}),
            GuardianLink.can_view_finance.is_(True),
            User.is_active.is_(True),
        )
    ).all()
    receiving = opted_in((g.id for g in guardians), MailKind.FEE_REMINDER)
    letters = []
    for invoice, student in owing:
        stage, stage_text = _stage(invoice.due_date, today, settings.fee_reminder_days)
        for student_id, user_id, email, full_name in guardians:
            if student_id != invoice.student_id or user_id not in receiving:
                continue
            context = {
                "school": school.name,
                "full_name": full_name,
                "student": student,
                "number": invoice.number,
                "stage_text": stage_text,
                "outstanding": format_money(sums[invoice.id].outstanding, school.currency),
                "due": invoice.due_date,
            }
            key = f"fee_reminder:{invoice.id}:{stage}:{user_id}"
            letters.append(mail.Letter(key, mail.Recipient(email, user_id), context))
    queued = mail.queue_emails(settings, MailKind.FEE_REMINDER, school.id, letters)
    db.session.commit()
    return len(owing), queued


def remind(settings: Settings, progress: Progress | None = None) -> Reminded:
    schools = list(db.session.scalars(select(School).order_by(School.name)))
    invoices = queued = 0
    for school in schools:
        found, sent = _school(settings, school)
        invoices, queued = invoices + found, queued + sent
        if progress is not None:
            progress(1)
    return Reminded(len(schools), invoices, queued)
