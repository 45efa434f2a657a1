"""The demo school's fees, health records and knowledge base (added by `seed` to its students)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from backend.assistant import Audience, KnowledgeEntry, KnowledgeKind
from backend.fees import Invoice, InvoiceLine, InvoiceState, Payment, PaymentMethod
from backend.health_records import HealthRecord
from backend.students import Student

TERM_FEE_CENTS = 120_000
TRIP_CENTS = 4_500
PARTIAL_CENTS = 50_000
ALLERGY = {
    "allergen": "Peanuts",
    "severity": "severe",
    "reaction": "Swelling and difficulty breathing",
    "response": "Give the adrenaline auto-injector and call 999",
}
KNOWLEDGE = (
    (
        KnowledgeKind.POLICY,
        "Reporting an absence",
        "If your child is ill or cannot attend, report the absence to the school office before "
        "9:00 on each day of absence, by phone or by email. Unreported absences are recorded as "
        "unauthorised.",
    ),
    (
        KnowledgeKind.POLICY,
        "Uniform policy",
        "Pupils wear a navy jumper, a white polo shirt, grey trousers or skirt and black shoes. "
        "PE kit is a plain white T-shirt and navy shorts.",
    ),
    (
        KnowledgeKind.FAQ,
        "School hours",
        "The school day starts at 8:45 and ends at 15:15. The gates open at 8:30; breakfast club "
        "starts at 7:45.",
    ),
    (
        KnowledgeKind.FAQ,
        "Paying fees",
        "Fees can be paid by bank transfer, card at the office, or cash. Quote the invoice number "
        "as the reference. Term fees are due two weeks after the invoice is issued.",
    ),
    (
        KnowledgeKind.POLICY,
        "Medication in school",
        "Medication is given in school only with a signed consent form. Inhalers and adrenaline "
        "auto-injectors stay with the pupil; everything else is kept in the office.",
    ),
    (
        KnowledgeKind.FAQ,
        "Term dates and holidays",
        "The autumn term ends on 18 December; the spring term starts on 5 January. Half term is "
        "the week of 16 February.",
    ),
    (
        KnowledgeKind.FAQ,
        "Mobile phones",
        "Pupils may bring a phone to school; it is handed in at the office at 8:45 and collected "
        "at the end of the day.",
    ),
)
STAFF_KNOWLEDGE = (
    KnowledgeKind.HOWTO,
    "Taking the register",
    "Take the register for each class within the first ten minutes of the lesson. Mark late "
    "arrivals as late, not absent; only the office marks absences as excused.",
)


def fees_for(school_id: uuid.UUID, students: list[Student], admin_id: uuid.UUID, today: date) -> list[object]:
    """A term fee for everyone (a third paid, a fifth part-paid) and an overdue trip for every
    fourth student."""
    rows: list[object] = []
    paid_at = datetime.now(UTC) - timedelta(days=3)
    for number, student in enumerate(students, start=1):
        term_fee = Invoice(
            school_id=school_id,
            student_id=student.id,
            number=f"INV-{number:04d}",
            issue_date=today - timedelta(days=5),
            due_date=today + timedelta(days=14),
            state=InvoiceState.ISSUED.value,
            created_by=admin_id,
        )
        term_fee.id = uuid.uuid4()
        rows += [term_fee, _line(school_id, term_fee.id, "Term fee", "tuition", TERM_FEE_CENTS)]
        paid = TERM_FEE_CENTS if number % 3 == 0 else PARTIAL_CENTS if number % 5 == 0 else 0
        if paid:
            rows.append(
                Payment(
                    school_id=school_id,
                    invoice_id=term_fee.id,
                    amount_cents=paid,
                    method=PaymentMethod.BANK_TRANSFER.value,
                    reference=term_fee.number,
                    paid_at=paid_at,
                    received_by=admin_id,
                    created_at=paid_at,
                )
            )
        if number % 4 == 0:
            trip = Invoice(
                school_id=school_id,
                student_id=student.id,
                number=f"TRIP-{number:04d}",
                issue_date=today - timedelta(days=30),
                due_date=today - timedelta(days=10),
                state=InvoiceState.ISSUED.value,
                created_by=admin_id,
            )
            trip.id = uuid.uuid4()
            rows += [trip, _line(school_id, trip.id, "Museum trip", "trip", TRIP_CENTS)]
    return rows


def _line(school_id: uuid.UUID, invoice_id: uuid.UUID, text: str, category: str, cents: int) -> InvoiceLine:
    return InvoiceLine(
        school_id=school_id,
        invoice_id=invoice_id,
        position=1,
        description=text,
        category=category,
        amount_cents=cents,
    )


def health_for(school_id: uuid.UUID, students: list[Student], admin_id: uuid.UUID) -> list[HealthRecord]:
    """A record for every third student: a peanut allergy, asthma and an inhaler."""
    return [
        HealthRecord(
            school_id=school_id,
            student_id=student.id,
            blood_type="O+",
            allergies=[ALLERGY],
            conditions=["Asthma"],
            medications=[{"name": "Salbutamol inhaler", "dose": "2 puffs", "schedule": "as needed"}],
            alerts=["Carries an adrenaline auto-injector"],
            physician=None,
            notes=None,
            updated_by=admin_id,
        )
        for number, student in enumerate(students, start=1)
        if number % 3 == 1
    ]


def knowledge_for(school_id: uuid.UUID, admin_id: uuid.UUID) -> list[KnowledgeEntry]:
    entries = [
        KnowledgeEntry(school_id=school_id, kind=kind.value, title=title, body=body, updated_by=admin_id)
        for kind, title, body in KNOWLEDGE
    ]
    kind, title, body = STAFF_KNOWLEDGE
    entries.append(
        KnowledgeEntry(
            school_id=school_id,
            kind=kind.value,
            title=title,
            body=body,
            audience=Audience.STAFF.value,
            updated_by=admin_id,
        )
    )
    return entries
