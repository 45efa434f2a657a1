"""Assessments, grade entry, and a student's grades with a summary per term."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from backend import audit
from backend.classes import Enrollment, SchoolClass, Term, teaching, visible_class
from backend.core.db import retry_on_conflict
from backend.core.errors import Forbidden, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.grades.models import Assessment, Grade, GradeStatus
from backend.grades.schemas import (
    AssessmentIn,
    AssessmentUpdateIn,
    GradeEntry,
    StudentGradeOut,
    StudentGradesOut,
    TermSummary,
)
from backend.students import guardian_link, visible_student
from backend.tenancy import AuthContext, Role

ASSESSMENT_FIELDS = ("title", "category", "max_score", "weight", "due_on", "published")
GRADE_FIELDS = ("status", "score", "comment")


def list_assessments(auth: AuthContext, class_id: uuid.UUID) -> list[Assessment]:
    visible_class(auth, class_id)
    return list(
        db.session.scalars(
            auth.scoped(Assessment)
            .where(Assessment.class_id == class_id)
            .order_by(Assessment.due_on.is_(None), Assessment.due_on, Assessment.title, Assessment.id)
        )
    )


def create_assessment(auth: AuthContext, class_id: uuid.UUID, data: AssessmentIn) -> Assessment:
    visible_class(auth, class_id)
    assessment = Assessment(school_id=auth.school_id, class_id=class_id, **data.model_dump())
    db.session.add(assessment)
    audit.record(
        auth, "assessment.create", resource=assessment, resource_type="assessment", changes=data.model_dump()
    )
    db.session.commit()
    return assessment


def taught_assessment(auth: AuthContext, assessment_id: uuid.UUID) -> Assessment:
    """An assessment of a class the caller teaches (any of the school's for admins)."""
    assessment = db.session.scalar(
        auth.scoped(Assessment)
        .join(SchoolClass, SchoolClass.id == Assessment.class_id)
        .where(Assessment.id == assessment_id, teaching(auth))
    )
    if assessment is None:
        raise NotFound("Assessment not found.")
    return assessment


def update_assessment(auth: AuthContext, assessment_id: uuid.UUID, data: AssessmentUpdateIn) -> Assessment:
    assessment = taught_assessment(auth, assessment_id)
    if data.max_score is not None:
        top = db.session.scalar(
            select(Grade.score)
            .where(Grade.assessment_id == assessment.id)
            .order_by(Grade.score.desc().nulls_last())
            .limit(1)
        )
        if top is not None and top > data.max_score:
            raise ValidationFailed.on("body.max_score", f"A grade of {top} is already above it.")
    before = audit.snapshot(assessment, ASSESSMENT_FIELDS)
    for name in data.model_fields_set:
        setattr(assessment, name, getattr(data, name))
    if changes := audit.diff(before, audit.snapshot(assessment, ASSESSMENT_FIELDS)):
        published = changes.get("published", {}).get("after") is True
        action = "assessment.publish" if published else "assessment.update"
        audit.record(auth, action, resource=assessment, resource_type="assessment", changes=changes)
    db.session.commit()
    return assessment


def assessment_grades(auth: AuthContext, assessment_id: uuid.UUID) -> list[Grade]:
    taught_assessment(auth, assessment_id)
    return list(
        db.session.scalars(
            auth.scoped(Grade).where(Grade.assessment_id == assessment_id).order_by(Grade.student_id)
        )
    )


def _entry_errors(
    assessment: Assessment, entries: list[GradeEntry], enrolled: set[uuid.UUID]
) -> list[dict[str, str]]:
    errors = []
    for i, entry in enumerate(entries):
        if entry.student_id not in enrolled:
            errors.append(
                {
                    "field": f"body.grades.{i}.student_id",
                    "message": "Not enrolled in this class.",
                    "type": "not_enrolled",
                }
            )
        if entry.score is not None and entry.score > assessment.max_score:
            message = f"Above the maximum score of {assessment.max_score}."
            errors.append({"field": f"body.grades.{i}.score", "message": message, "type": "too_high"})
    return errors


@retry_on_conflict
def record_grades(auth: AuthContext, assessment_id: uuid.UUID, entries: list[GradeEntry]) -> list[Grade]:
    """Create or replace each listed student's grade; repeating a request changes nothing."""
    assessment = taught_assessment(auth, assessment_id)
    wanted = {entry.student_id: entry for entry in entries}
    enrolled = set(
        db.session.scalars(
            select(Enrollment.student_id).where(
                Enrollment.class_id == assessment.class_id, Enrollment.student_id.in_(wanted)
            )
        )
    )
    errors = _entry_errors(assessment, entries, enrolled)
    if errors:
        raise ValidationFailed(errors)
    existing = {
        grade.student_id: grade
        for grade in db.session.scalars(
            auth.scoped(Grade).where(Grade.assessment_id == assessment.id, Grade.student_id.in_(wanted))
        )
    }
    for student_id, entry in wanted.items():
        values = {"status": entry.status.value, "score": entry.score, "comment": entry.comment}
        grade = existing.get(student_id)
        before = audit.snapshot(grade, GRADE_FIELDS) if grade else {}
        if grade is None:
            grade = Grade(
                school_id=auth.school_id,
                assessment_id=assessment.id,
                student_id=student_id,
                graded_by=auth.user_id,
                **values,
            )
            db.session.add(grade)
        elif any(getattr(grade, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(grade, key, value)
            grade.graded_by = auth.user_id
        else:
            continue
        audit.record(
            auth,
            "grade.record",
            resource=grade,
            resource_type="grade",
            changes={
                "assessment_id": assessment.id,
                "student_id": student_id,
                **audit.diff(before, audit.snapshot(grade, GRADE_FIELDS)),
            },
        )
    db.session.commit()
    return assessment_grades(auth, assessment.id)


def percentage(score: Decimal | None, max_score: Decimal) -> float | None:
    return None if score is None else round(float(score / max_score * 100), 2)


@dataclass
class TermTotals:
    """A term's grades, summarised: weighted, a missing grade as 0, an exempt one left out."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    weight: Decimal = Decimal(0)
    points: Decimal = Decimal(0)

    def add(self, grade: Grade, assessment: Assessment) -> None:
        self.counts[grade.status] += 1
        if grade.status != GradeStatus.EXEMPT:
            self.weight += assessment.weight
            self.points += assessment.weight * (grade.score or 0) / assessment.max_score

    def summary(self, term_id: uuid.UUID) -> TermSummary:
        average = round(float(self.points / self.weight * 100), 2) if self.weight else None
        return TermSummary(
            term_id=term_id,
            term_name=self.name,
            graded=self.counts[GradeStatus.GRADED],
            missing=self.counts[GradeStatus.MISSING],
            exempt=self.counts[GradeStatus.EXEMPT],
            average_percentage=average,
        )


def student_grades(auth: AuthContext, student_id: uuid.UUID, term_id: uuid.UUID | None) -> StudentGradesOut:
    """The student's grades, latest term first, and a summary per term.

    Parents see published assessments only, where their link includes grades; teachers those of
    the classes they teach."""
    visible_student(auth, student_id)
    if auth.role == Role.PARENT and not getattr(guardian_link(auth, student_id), "can_view_grades", False):
        raise Forbidden("Your link to this student does not include grades.")
    statement = (
        select(Grade, Assessment, SchoolClass.name, Term.id, Term.name)
        .join(Assessment, Assessment.id == Grade.assessment_id)
        .join(SchoolClass, SchoolClass.id == Assessment.class_id)
        .join(Term, Term.id == SchoolClass.term_id)
        .where(auth.owns(Grade), Grade.student_id == student_id)
        .order_by(Term.starts_on.desc(), Assessment.due_on.desc().nulls_last(), Assessment.title)
    )
    if auth.role == Role.TEACHER:
        statement = statement.where(teaching(auth))
    elif auth.role == Role.PARENT:
        statement = statement.where(Assessment.published.is_(True))
    if term_id is not None:
        statement = statement.where(Term.id == term_id)
    items: list[StudentGradeOut] = []
    terms: dict[uuid.UUID, TermTotals] = {}
    for grade, assessment, class_name, term, term_name in db.session.execute(statement):
        items.append(
            StudentGradeOut(
                assessment_id=assessment.id,
                title=assessment.title,
                category=assessment.category,
                class_id=assessment.class_id,
                class_name=class_name,
                term_id=term,
                due_on=assessment.due_on,
                max_score=float(assessment.max_score),
                weight=float(assessment.weight),
                status=GradeStatus(grade.status),
                score=None if grade.score is None else float(grade.score),
                percentage=percentage(grade.score, assessment.max_score),
                comment=grade.comment,
            )
        )
        terms.setdefault(term, TermTotals(term_name)).add(grade, assessment)
    return StudentGradesOut(items=items, terms=[totals.summary(term) for term, totals in terms.items()])
