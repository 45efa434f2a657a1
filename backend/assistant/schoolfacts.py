"""Facts for staff across a class or the school that read other features in bulk: who in the
classes has allergies or alerts (one query through health_records, every read audited), and the
school's fee position for admins (one query through fees)."""

from __future__ import annotations

from sqlalchemy import select

from backend import health_records as health
from backend.assistant.classfacts import class_rosters
from backend.assistant.facts import Fact, allergy
from backend.assistant.naming import ClassRef
from backend.assistant.understanding import Question
from backend.core.extensions import db
from backend.fees import format_money, student_balances
from backend.students import Student, visible_students
from backend.tenancy import AuthContext

MAX_HEALTH_READS = 120


def school_fees(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """Admins: how many students owe, how many are overdue, and the largest overdue balances."""
    if named:  # "overdue fees in Year 5 English?": that class's students only
        ids = [
            sid for roster in class_rosters(auth, [c.id for c in classes]).values() for sid, _name in roster
        ]
    else:
        ids = list(
            db.session.scalars(
                auth.scoped(Student).where(visible_students(auth)).with_only_columns(Student.id)
            )
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


def class_health(auth: AuthContext, question: Question, classes: list[ClassRef], named: bool) -> list[Fact]:
    """Staff: the students of the classes with allergies or alerts on record, read in one query
    through health_records (the allergies-and-alerts view; every record read is audited)."""
    rosters = class_rosters(auth, [c.id for c in classes])
    ids = [sid for roster in rosters.values() for sid, _name in roster]
    if len(ids) > MAX_HEALTH_READS:
        return [Fact("That is too many students to read at once: name a class or a student.")]
    records = health.read_alerts(auth, ids)
    facts = []
    for c in classes:
        roster = rosters.get(c.id, [])
        lines = [
            Fact(
                f"{name} — allergies: {'; '.join(allergy(a) for a in r.allergies) or 'none recorded'}; "
                f"alerts: {'; '.join(r.alerts) or 'none recorded'}."
            )
            for sid, name in roster
            if (r := records.get(sid)) and (r.allergies or r.alerts)
        ]
        facts.append(
            Fact(f"{c.name}: allergies or alerts on record for {len(lines)} of {len(roster)} students.")
        )
        facts += lines
    return facts
