"""Report comments: a teacher's per student and class, the admin's overall one per student and
term; and the progress view of which are still to write, per teacher."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, select

from backend import audit
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, teaching, visible_class
from backend.core.db import retry_on_conflict
from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.reportcards.content import enrolled, term_of
from backend.reportcards.models import ReportComment
from backend.reportcards.schemas import ClassProgress, MissingComment, ProgressOut, TeacherProgress
from backend.students import Student
from backend.tenancy import AuthContext, Role


def _enrolled_in_class(auth: AuthContext, class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    found = db.session.scalar(
        select(Enrollment.id).where(
            auth.owns(Enrollment), Enrollment.class_id == class_id, Enrollment.student_id == student_id
        )
    )
    if found is None:
        raise NotFound("Student not found in this class.")


def _enrolled_in_term(auth: AuthContext, term: Term, student_id: uuid.UUID) -> None:
    if db.session.scalar(enrolled(auth, term).where(Enrollment.student_id == student_id)) is None:
        raise NotFound("Student not found in this term's classes.")


def _where(term_id: Any, student_id: Any, class_id: uuid.UUID | None) -> ColumnElement[bool]:
    where: ColumnElement[bool] = (ReportComment.term_id == term_id) & (ReportComment.student_id == student_id)
    return where & (
        ReportComment.class_id.is_(None) if class_id is None else ReportComment.class_id == class_id
    )


@retry_on_conflict
def _write(
    auth: AuthContext, term_id: uuid.UUID, student_id: uuid.UUID, class_id: uuid.UUID | None, body: str
) -> ReportComment:
    """Create or rewrite the comment; the same words saved again change nothing (not its author)."""
    comment = db.session.scalar(auth.scoped(ReportComment).where(_where(term_id, student_id, class_id)))
    before = comment.body if comment else None
    if comment is not None and before == body:
        return comment
    if comment is None:
        comment = ReportComment(
            school_id=auth.school_id, term_id=term_id, student_id=student_id, class_id=class_id
        )
        db.session.add(comment)
    comment.body, comment.author_id = body, auth.user_id
    db.session.flush()
    audit.record(
        auth,
        "report_comment.write",
        resource=comment,
        resource_type="report_comment",
        changes={
            "term_id": term_id,
            "student_id": student_id,
            "class_id": class_id,
            "body": {"before": before, "after": body},
        },
    )
    db.session.commit()
    return comment


def write_class_comment(
    auth: AuthContext, class_id: uuid.UUID, student_id: uuid.UUID, body: str
) -> ReportComment:
    """A teacher's comment (teachers: a class they teach; admins: any class)."""
    school_class = visible_class(auth, class_id)
    _enrolled_in_class(auth, class_id, student_id)
    return _write(auth, school_class.term_id, student_id, class_id, body)


def write_overall_comment(
    auth: AuthContext, term_id: uuid.UUID, student_id: uuid.UUID, body: str
) -> ReportComment:
    term = term_of(auth, term_id)
    _enrolled_in_term(auth, term, student_id)
    return _write(auth, term.id, student_id, None, body)


def _delete(auth: AuthContext, term_id: uuid.UUID, student_id: uuid.UUID, class_id: uuid.UUID | None) -> None:
    comment = db.session.scalar(auth.scoped(ReportComment).where(_where(term_id, student_id, class_id)))
    if comment is None:
        raise NotFound("No comment to delete.")
    audit.record(
        auth,
        "report_comment.delete",
        resource=comment,
        resource_type="report_comment",
        changes={"term_id": term_id, "student_id": student_id, "class_id": class_id, "body": comment.body},
    )
    db.session.delete(comment)
    db.session.commit()


def delete_class_comment(auth: AuthContext, class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    school_class = visible_class(auth, class_id)
    _delete(auth, school_class.term_id, student_id, class_id)


def delete_overall_comment(auth: AuthContext, term_id: uuid.UUID, student_id: uuid.UUID) -> None:
    _delete(auth, term_of(auth, term_id).id, student_id, None)


def class_comments(auth: AuthContext, class_id: uuid.UUID) -> list[ReportComment]:
    visible_class(auth, class_id)
    return list(
        db.session.scalars(
            auth.scoped(ReportComment)
            .where(ReportComment.class_id == class_id)
            .order_by(ReportComment.student_id)
        )
    )


def _missing(row: Any) -> MissingComment:
    return MissingComment(
        student_id=row.student_id,
        admission_number=row.admission_number,
        name=f"{row.first_name} {row.last_name}",
    )


def _class_rows(auth: AuthContext, term: Term) -> list[Any]:
    """Every enrollment of the caller's classes of the term, with the class, its teacher, and
    whether the student's comment is written: one statement."""
    written = (
        (ReportComment.class_id == Enrollment.class_id)
        & (ReportComment.student_id == Enrollment.student_id)
        & auth.owns(ReportComment)
    )
    return list(
        db.session.execute(
            select(
                SchoolClass.id.label("class_id"),
                SchoolClass.name.label("class_name"),
                SchoolClass.teacher_id,
                User.full_name.label("teacher_name"),
                Enrollment.student_id,
                Student.admission_number,
                Student.first_name,
                Student.last_name,
                ReportComment.id.label("comment_id"),
            )
            .join(Enrollment, (Enrollment.class_id == SchoolClass.id) & auth.owns(Enrollment))
            .join(Student, Student.id == Enrollment.student_id)
            .outerjoin(User, User.id == SchoolClass.teacher_id)
            .outerjoin(ReportComment, written)
            .where(auth.owns(SchoolClass), SchoolClass.term_id == term.id, teaching(auth))
            .order_by(User.full_name, SchoolClass.name, SchoolClass.id, Student.last_name, Student.first_name)
        )
    )


def _teachers(rows: list[Any]) -> list[TeacherProgress]:
    classes: dict[uuid.UUID, ClassProgress] = {}
    owners: dict[uuid.UUID | None, tuple[str | None, list[uuid.UUID]]] = {}
    for row in rows:
        progress = classes.get(row.class_id)
        if progress is None:
            progress = classes[row.class_id] = ClassProgress(
                class_id=row.class_id, class_name=row.class_name, students=0, written=0, missing=[]
            )
            owners.setdefault(row.teacher_id, (row.teacher_name, []))[1].append(row.class_id)
        progress.students += 1
        if row.comment_id is None:
            progress.missing.append(_missing(row))
        else:
            progress.written += 1
    return [
        TeacherProgress(
            teacher_id=teacher_id,
            teacher_name=name,
            students=sum(classes[c].students for c in class_ids),
            written=sum(classes[c].written for c in class_ids),
            classes=[classes[c] for c in class_ids],
        )
        for teacher_id, (name, class_ids) in owners.items()
    ]


def progress(auth: AuthContext, term_id: uuid.UUID) -> ProgressOut:
    """Per teacher and class, the comments written and the students still without one (teachers:
    their own classes); for admins also the overall comments still to write."""
    term = term_of(auth, term_id)
    teachers = _teachers(_class_rows(auth, term))
    overall: list[Any] = []
    if auth.role == Role.ADMIN:
        overall = list(
            db.session.execute(
                select(
                    Student.id.label("student_id"),
                    Student.admission_number,
                    Student.first_name,
                    Student.last_name,
                )
                .outerjoin(ReportComment, _where(term.id, Student.id, None) & auth.owns(ReportComment))
                .where(auth.owns(Student), Student.id.in_(enrolled(auth, term)))
                .add_columns(ReportComment.id.label("comment_id"))
                .order_by(Student.last_name, Student.first_name, Student.id)
            )
        )
    missing = defaultdict(list)
    for row in overall:
        missing[row.comment_id is None].append(_missing(row))
    return ProgressOut(
        term_id=term.id,
        teachers=teachers,
        overall_students=len(overall),
        overall_written=len(missing[False]),
        overall_missing=missing[True],
    )
