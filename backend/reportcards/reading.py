"""Reading published reports: who may (admins every one; parents their linked children's, where the
link includes grades; teachers work with the drafts of their classes instead, since a report holds
every class's grades; another school's is not found), the lists, one report as JSON or PDF, the
office's CSV and the school's ZIP of PDFs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, false, func, select

from backend import audit
from backend.auth import User
from backend.classes import Enrollment, Term, visible_class
from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.core.pagination import Page, keyset, page_of
from backend.grades import Assessment
from backend.reportcards.batch import safe_name
from backend.reportcards.content import Ids, build, enrolled, term_of
from backend.reportcards.models import ReportCard, ReportComment
from backend.reportcards.pdf import render_pdf
from backend.reportcards.publishing import latest_version
from backend.reportcards.results import class_marks
from backend.reportcards.scales import scales_for
from backend.reportcards.schemas import CardOut, CardsQuery, ClassResultsOut, ResultsQuery, StudentResult
from backend.reportcards.snapshot import PublishedReport, ReportContent, rate_text
from backend.students import Student, grades_visible, visible_student
from backend.tenancy import AuthContext, Role

Cards = Select[ReportCard, Student, str, str]


def _cards(auth: AuthContext) -> Cards:
    """Cards with the student, the term and the publisher's name, as far as the caller may read."""
    return (
        select(ReportCard, Student, Term.name, User.full_name)
        .join(Student, Student.id == ReportCard.student_id)
        .join(Term, Term.id == ReportCard.term_id)
        .outerjoin(User, User.id == ReportCard.published_by)
        .where(auth.owns(ReportCard), auth.owns(Student), _readable(auth))
    )


def _readable(auth: AuthContext) -> ColumnElement[bool]:
    return false() if auth.role == Role.TEACHER else grades_visible(auth)


def _card_out(row: Any) -> CardOut:
    card, student, term_name = row[0], row[1], row[2]
    return CardOut(
        id=card.id,
        term_id=card.term_id,
        term_name=term_name,
        student_id=student.id,
        student_name=f"{student.first_name} {student.last_name}",
        admission_number=student.admission_number,
        version=card.version,
        published_at=card.created_at,
        changes=card.changes,
    )


def _narrowed(auth: AuthContext, statement: Cards, query: ResultsQuery) -> Cards:
    if query.class_id is not None:
        statement = statement.where(
            ReportCard.student_id.in_(
                select(Enrollment.student_id).where(
                    auth.owns(Enrollment), Enrollment.class_id == query.class_id
                )
            )
        )
    if query.grade_level is not None:
        statement = statement.where(Student.grade_level == query.grade_level)
    return statement


def term_cards(auth: AuthContext, term_id: uuid.UUID, query: CardsQuery) -> Page[CardOut]:
    """The latest version of each student's report for the term, by name."""
    term = term_of(auth, term_id)
    statement = _narrowed(auth, _cards(auth).where(ReportCard.term_id == term.id, latest_version()), query)
    order = (Student.last_name, Student.first_name, ReportCard.id)
    rows = db.session.execute(keyset(statement, order, query)).all()
    page = page_of(rows, query, lambda row: [row[1].last_name, row[1].first_name, row[0].id])
    return Page([_card_out(row) for row in page.items], page.next_cursor)


def student_cards(auth: AuthContext, student_id: uuid.UUID) -> list[CardOut]:
    """Every published version of the student's reports, the latest term and version first."""
    visible_student(auth, student_id)
    rows = db.session.execute(
        _cards(auth)
        .where(ReportCard.student_id == student_id)
        .order_by(Term.starts_on.desc(), ReportCard.version.desc())
    )
    return [_card_out(row) for row in rows]


def latest_for(auth: AuthContext, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[CardOut]]:
    """The latest version of each term's report for these students (the parent dashboard)."""
    found: dict[uuid.UUID, list[CardOut]] = {student_id: [] for student_id in student_ids}
    if student_ids:
        rows = db.session.execute(
            _cards(auth)
            .where(ReportCard.student_id.in_(student_ids), latest_version())
            .order_by(Term.starts_on.desc())
        )
        for row in rows:
            found[row[1].id].append(_card_out(row))
    return found


def published(auth: AuthContext, card_id: uuid.UUID) -> PublishedReport:
    row = db.session.execute(_cards(auth).where(ReportCard.id == card_id)).first()
    if row is None:
        raise NotFound("Report card not found.")
    return _report(auth, row)


def _frozen(auth: AuthContext, row: Any) -> dict[str, Any]:
    """A published version as plain values (its content still the stored JSON)."""
    card: ReportCard = row[0]
    return {
        "id": card.id,
        "version": card.version,
        "published_at": card.created_at,
        "published_on": card.created_at.astimezone(ZoneInfo(auth.timezone)).date(),
        "published_by_name": row[3],
        "changes": card.changes,
        "content": card.content,
    }


def _report(auth: AuthContext, row: Any) -> PublishedReport:
    return PublishedReport.model_validate(_frozen(auth, row))


def pdf(auth: AuthContext, card_id: uuid.UUID) -> tuple[bytes, str]:
    """The report's PDF and a file name for it; the download is audited."""
    report = published(auth, card_id)
    audit.record(auth, "report_card.download", resource_id=report.id, resource_type="report_card", changes={})
    db.session.commit()
    content = report.content
    return render_pdf(report), safe_name(content.admission_number, content.last_name, content.first_name)


def draft(auth: AuthContext, term_id: uuid.UUID, student_id: uuid.UUID) -> ReportContent:
    """The report as it would be published now; a teacher's shows the classes they teach."""
    term = term_of(auth, term_id)
    visible_student(auth, student_id)
    one = select(Student.id).where(Student.id == student_id)
    contents, _scales = build(auth, term, one, own_classes_only=auth.role == Role.TEACHER)
    if student_id not in contents:
        raise NotFound("Student not found in this term's classes.")
    return contents[student_id]


def class_results(auth: AuthContext, class_id: uuid.UUID) -> ClassResultsOut:
    """Each enrolled student's result in the class (live: published assessments as graded now)."""
    school_class = visible_class(auth, class_id)
    term = term_of(auth, school_class.term_id)
    scale = scales_for(auth, [class_id])[class_id]
    comments: dict[uuid.UUID, str] = dict(
        db.session.execute(
            select(ReportComment.student_id, ReportComment.body).where(
                auth.owns(ReportComment), ReportComment.class_id == class_id
            )
        ).all()
    )
    count = select(func.count(Assessment.id)).where(
        auth.owns(Assessment), Assessment.class_id == class_id, Assessment.published.is_(True)
    )
    return ClassResultsOut(
        class_id=school_class.id,
        class_name=school_class.name,
        term_id=term.id,
        scale_id=scale.id if scale else None,
        scale_name=scale.name if scale else None,
        published_assessments=db.session.scalar(count) or 0,
        items=[
            StudentResult(**vars(marks), comment=comments.get(marks.student_id))
            for marks in class_marks(auth, school_class, term, scale)
        ],
    )


CSV_COLUMNS = [
    "admission_number",
    "first_name",
    "last_name",
    "class",
    "subject",
    "average",
    "grade",
    "attendance_rate",
]


def _office_students(auth: AuthContext, term: Term, query: ResultsQuery) -> Ids | None:
    """The students the office asked for; None for every student of the term."""
    if query.class_id is None and query.grade_level is None:
        return None
    students = enrolled(auth, term)
    if query.class_id is not None:
        students = students.where(Enrollment.class_id == query.class_id)
    if query.grade_level is not None:
        year = select(Student.id).where(auth.owns(Student), Student.grade_level == query.grade_level)
        students = students.where(Enrollment.student_id.in_(year))
    return students


def results_rows(auth: AuthContext, term_id: uuid.UUID, query: ResultsQuery) -> Iterator[list[object]]:
    """The term's results for the office, a row per student and class (live, as a draft would
    show them), by student then class; the average as a number, the rate as a percentage."""
    term = term_of(auth, term_id)
    contents, _scales = build(auth, term, _office_students(auth, term, query))
    for content in sorted(contents.values(), key=lambda c: (c.last_name, c.first_name, c.admission_number)):
        for result in content.classes:
            if query.class_id is not None and result.class_id != query.class_id:
                continue
            yield [
                content.admission_number,
                content.first_name,
                content.last_name,
                result.class_name,
                result.subject,
                result.average,
                result.grade,
                rate_text(result.attendance.rate) if result.attendance.rate is not None else None,
            ]


def zip_entries(
    auth: AuthContext, term_id: uuid.UUID, query: ResultsQuery
) -> list[tuple[str, Callable[[], bytes]]]:
    """The latest version of each student's published report for the term, as (file name, render):
    read now as plain values (the frozen JSON, unparsed), each parsed and rendered only when the
    ZIP reaches it, so memory holds one report's objects and one PDF at a time."""
    term = term_of(auth, term_id)
    statement = _narrowed(auth, _cards(auth).where(ReportCard.term_id == term.id, latest_version()), query)
    entries = []
    for row in db.session.execute(statement.order_by(Student.last_name, Student.first_name, ReportCard.id)):
        student = row[1]
        name = safe_name(student.admission_number, student.last_name, student.first_name)
        entries.append((name, _renderer(_frozen(auth, row))))
    audit.record(
        auth,
        "report_card.export",
        resource_id=term.id,
        resource_type="term",
        changes={"reports": len(entries), "class_id": query.class_id, "grade_level": query.grade_level},
    )
    db.session.commit()
    return entries


def _renderer(frozen: dict[str, Any]) -> Callable[[], bytes]:
    return lambda: render_pdf(PublishedReport.model_validate(frozen))
