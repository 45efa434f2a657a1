"""CSV exports, streamed row by row (the database hands rows over in batches), each with the
same visibility as the API: a teacher exports only their classes' students, a parent only their
children (and fees only where the link allows). The first four kinds have exactly the columns
their import reads, so an export imports back unchanged.

The rows are read on a connection of the export's own, from the view (the first batch, before
there is a status) until the last row is written: the request's session is closed when the view
returns, before the body streams, and a PostgreSQL server-side cursor lives only as long as the
transaction that opened it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select

from backend.attendance import AttendanceRecord
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, teaching
from backend.core.errors import Forbidden
from backend.core.extensions import db
from backend.fees import Invoice, InvoiceLine, Payment, PaymentReversal, finance_students
from backend.grades import Assessment, Grade
from backend.spreadsheets.kinds import KINDS
from backend.spreadsheets.schemas import ExportQuery
from backend.students import GuardianLink, Student, visible_students
from backend.tenancy import AuthContext, Role, allowed

BATCH = 1000
Rows = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Export:
    permission: str
    columns: tuple[str, ...]
    statement: Callable[[AuthContext, ExportQuery], Rows]


def _students(auth: AuthContext, _f: ExportQuery) -> Rows:
    return (
        select(*(Student.__table__.c[name] for name in KINDS["students"].columns))
        .where(auth.owns(Student), visible_students(auth))
        .order_by(Student.admission_number)
    )


def _classes(auth: AuthContext, _f: ExportQuery) -> Rows:
    return (
        select(Term.name, SchoolClass.name, SchoolClass.subject, SchoolClass.grade_level, User.email)
        .join(Term, Term.id == SchoolClass.term_id)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(auth.owns(SchoolClass), teaching(auth))
        .order_by(Term.starts_on, SchoolClass.name)
    )


def _enrollments(auth: AuthContext, _f: ExportQuery) -> Rows:
    return (
        select(Student.admission_number, Term.name, SchoolClass.name)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .join(Term, Term.id == SchoolClass.term_id)
        .where(auth.owns(Enrollment), teaching(auth))
        .order_by(Student.admission_number, Term.starts_on, SchoolClass.name)
    )


def _guardians(auth: AuthContext, _f: ExportQuery) -> Rows:
    return (
        select(
            Student.admission_number,
            User.email,
            User.full_name,
            GuardianLink.relationship,
            GuardianLink.is_primary,
            GuardianLink.can_view_finance,
            GuardianLink.can_view_health,
        )
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .join(User, User.id == GuardianLink.user_id)
        .where(auth.owns(GuardianLink), visible_students(auth))
        .order_by(Student.admission_number, User.email)
    )


def _attendance(auth: AuthContext, f: ExportQuery) -> Rows:
    statement: Rows = (
        select(
            AttendanceRecord.on_date,
            Student.admission_number,
            Student.first_name,
            Student.last_name,
            SchoolClass.name,
            AttendanceRecord.status,
            AttendanceRecord.reason,
        )
        .join(Student, Student.id == AttendanceRecord.student_id)
        .outerjoin(SchoolClass, SchoolClass.id == AttendanceRecord.class_id)
        .where(auth.owns(AttendanceRecord), visible_students(auth))
        .order_by(AttendanceRecord.on_date, Student.admission_number, SchoolClass.name)
    )
    if auth.role == Role.TEACHER:
        statement = statement.where(teaching(auth))
    if f.from_ is not None:
        statement = statement.where(AttendanceRecord.on_date >= f.from_)
    if f.to is not None:
        statement = statement.where(AttendanceRecord.on_date <= f.to)
    if f.class_id is not None:
        statement = statement.where(AttendanceRecord.class_id == f.class_id)
    return statement


def _grades(auth: AuthContext, f: ExportQuery) -> Rows:
    statement: Rows = (
        select(
            Student.admission_number,
            Student.first_name,
            Student.last_name,
            Term.name,
            SchoolClass.name,
            Assessment.title,
            Assessment.due_on,
            Grade.status,
            Grade.score,
            Assessment.max_score,
        )
        .join(Grade, Grade.student_id == Student.id)
        .join(Assessment, Assessment.id == Grade.assessment_id)
        .join(SchoolClass, SchoolClass.id == Assessment.class_id)
        .join(Term, Term.id == SchoolClass.term_id)
        .where(auth.owns(Grade), visible_students(auth))
        .order_by(
            Student.admission_number, Term.starts_on, SchoolClass.name, Assessment.due_on, Assessment.title
        )
    )
    if auth.role == Role.TEACHER:
        statement = statement.where(teaching(auth))
    elif auth.role == Role.PARENT:
        statement = statement.where(Assessment.published.is_(True))
    if f.term_id is not None:
        statement = statement.where(Term.id == f.term_id)
    if f.class_id is not None:
        statement = statement.where(SchoolClass.id == f.class_id)
    return statement


def _invoices(auth: AuthContext, _f: ExportQuery) -> Rows:
    billed = (
        select(func.coalesce(func.sum(InvoiceLine.amount_cents), 0))
        .where(InvoiceLine.invoice_id == Invoice.id)
        .scalar_subquery()
    )
    paid = (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.invoice_id == Invoice.id, PaymentReversal.id.is_(None))
        .scalar_subquery()
    )
    return (
        select(
            Invoice.number,
            Student.admission_number,
            Student.first_name,
            Student.last_name,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.state,
            literal(auth.currency),
            billed,
            paid,
            billed - paid,
        )
        .join(Student, Student.id == Invoice.student_id)
        .where(auth.owns(Invoice), finance_students(auth))
        .order_by(Invoice.due_date, Invoice.number)
    )


EXPORTS: dict[str, Export] = {
    "students": Export("students.read", KINDS["students"].columns, _students),
    "classes": Export("classes.read", KINDS["classes"].columns, _classes),
    "enrollments": Export("classes.read", KINDS["enrollments"].columns, _enrollments),
    "guardians": Export("guardians.read", KINDS["guardians"].columns, _guardians),
    "attendance": Export(
        "attendance.read",
        ("date", "admission_number", "first_name", "last_name", "class_name", "status", "reason"),
        _attendance,
    ),
    "grades": Export(
        "grades.read",
        (
            "admission_number",
            "first_name",
            "last_name",
            "term",
            "class_name",
            "assessment",
            "due_on",
            "status",
            "score",
            "max_score",
        ),
        _grades,
    ),
    "invoices": Export(
        "fees.read",
        (
            "number",
            "admission_number",
            "first_name",
            "last_name",
            "issue_date",
            "due_date",
            "state",
            "currency",
            "total_cents",
            "paid_cents",
            "outstanding_cents",
        ),
        _invoices,
    ),
}


def export_rows(auth: AuthContext, kind: str, filters: ExportQuery) -> tuple[tuple[str, ...], Iterator[Any]]:
    """The kind's columns and its rows, fetched in batches as they are read (the query runs at the
    first row). Close the rows when done with them early: that gives their connection back."""
    export = EXPORTS[kind]
    if not allowed(auth.role, export.permission):
        raise Forbidden(f"Your role cannot export {kind}.")
    return export.columns, _rows(export.statement(auth, filters))


def _rows(statement: Rows) -> Iterator[Any]:
    """The statement's rows on a connection held from the first row to the last (or to `close()`):
    one transaction, so that PostgreSQL's server-side cursor (`yield_per`) lives while it is read."""
    with db.engine.connect() as connection:
        yield from connection.execution_options(yield_per=BATCH).execute(statement)
