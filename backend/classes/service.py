"""Terms, classes and enrollments."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ColumnElement, Select, exists, false, select, true

from backend import audit
from backend.auth import User
from backend.classes.models import Enrollment, SchoolClass, Term
from backend.classes.schemas import ClassIn, ClassListQuery, ClassUpdateIn, EnrollmentIn, TermIn
from backend.core.db import commit_unique
from backend.core.errors import NotFound, ValidationFailed
from backend.core.extensions import db
from backend.core.pagination import Page, keyset, page_of
from backend.students import Student, StudentStatus
from backend.tenancy import AuthContext, Role

CLASS_FIELDS = ("name", "subject", "grade_level", "term_id", "teacher_id")


# --- terms --------------------------------------------------------------------------------------


def list_terms(auth: AuthContext) -> list[Term]:
    return list(db.session.scalars(auth.scoped(Term).order_by(Term.starts_on, Term.id)))


def create_term(auth: AuthContext, data: TermIn) -> Term:
    term = Term(school_id=auth.school_id, **data.model_dump())
    db.session.add(term)
    audit.record(auth, "term.create", resource=term, resource_type="term", changes=data.model_dump())
    commit_unique(f"A term named {data.name!r} already exists.")
    return term


def term_on(auth: AuthContext, day: date) -> Term | None:
    """The term that contains `day`, if any (the latest-starting one if terms overlap)."""
    return db.session.scalar(
        auth.scoped(Term)
        .where(Term.starts_on <= day, Term.ends_on >= day)
        .order_by(Term.starts_on.desc())
        .limit(1)
    )


# --- classes ------------------------------------------------------------------------------------


def teaching(auth: AuthContext) -> ColumnElement[bool]:
    """The classes the caller works with: all of the school's for admins, their own for teachers,
    none for anyone else."""
    if auth.role == Role.ADMIN:
        return true()
    return SchoolClass.teacher_id == auth.user_id if auth.role == Role.TEACHER else false()


def visible_classes(auth: AuthContext) -> Select[SchoolClass]:
    return auth.scoped(SchoolClass).where(teaching(auth))


def visible_class(auth: AuthContext, class_id: uuid.UUID) -> SchoolClass:
    school_class = db.session.scalar(visible_classes(auth).where(SchoolClass.id == class_id))
    if school_class is None:
        raise NotFound("Class not found.")
    return school_class


def list_classes(auth: AuthContext, query: ClassListQuery) -> Page[SchoolClass]:
    statement = visible_classes(auth)
    if query.term_id is not None:
        statement = statement.where(SchoolClass.term_id == query.term_id)
    rows = db.session.scalars(keyset(statement, (SchoolClass.name, SchoolClass.id), query)).all()
    return page_of(rows, query, lambda c: [c.name, c.id])


def _check_term(auth: AuthContext, term_id: uuid.UUID) -> None:
    if not db.session.scalar(select(exists().where(Term.id == term_id, auth.owns(Term)))):
        raise ValidationFailed.on("body.term_id", "No term with this id in the school.")


def _check_teacher(auth: AuthContext, teacher_id: uuid.UUID | None) -> None:
    if teacher_id is not None and not db.session.scalar(
        select(
            exists().where(
                User.id == teacher_id,
                auth.owns(User),
                User.role == Role.TEACHER.value,
                User.is_active.is_(True),
            )
        )
    ):
        raise ValidationFailed.on("body.teacher_id", "No active teacher with this id in the school.")


def create_class(auth: AuthContext, data: ClassIn) -> SchoolClass:
    _check_term(auth, data.term_id)
    _check_teacher(auth, data.teacher_id)
    school_class = SchoolClass(school_id=auth.school_id, **data.model_dump())
    db.session.add(school_class)
    audit.record(
        auth, "class.create", resource=school_class, resource_type="class", changes=data.model_dump()
    )
    commit_unique(f"The term already has a class named {data.name!r}.")
    return school_class


def update_class(auth: AuthContext, class_id: uuid.UUID, data: ClassUpdateIn) -> SchoolClass:
    school_class = visible_class(auth, class_id)
    if "teacher_id" in data.model_fields_set:
        _check_teacher(auth, data.teacher_id)
    before = audit.snapshot(school_class, CLASS_FIELDS)
    for name in data.model_fields_set:
        setattr(school_class, name, getattr(data, name))
    if changes := audit.diff(before, audit.snapshot(school_class, CLASS_FIELDS)):
        audit.record(auth, "class.update", resource=school_class, resource_type="class", changes=changes)
    commit_unique("The term already has a class with this name.")
    return school_class


# --- enrollments ----------------------------------------------------------------------------------


def list_enrollments(auth: AuthContext, class_id: uuid.UUID) -> list[Student]:
    visible_class(auth, class_id)
    return list(
        db.session.scalars(
            select(Student)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .where(Enrollment.class_id == class_id, auth.owns(Enrollment))
            .order_by(Student.last_name, Student.first_name, Student.id)
        )
    )


def enroll(auth: AuthContext, class_id: uuid.UUID, data: EnrollmentIn) -> Student:
    visible_class(auth, class_id)
    student = db.session.scalar(auth.scoped(Student).where(Student.id == data.student_id))
    if student is None:
        raise ValidationFailed.on("body.student_id", "No student with this id in the school.")
    if student.status != StudentStatus.ACTIVE:
        raise ValidationFailed.on("body.student_id", f"The student is {student.status}.")
    enrollment = Enrollment(school_id=auth.school_id, class_id=class_id, student_id=student.id)
    db.session.add(enrollment)
    audit.record(
        auth,
        "enrollment.create",
        resource=enrollment,
        resource_type="enrollment",
        changes={"class_id": class_id, "student_id": student.id},
    )
    commit_unique("The student is already enrolled in this class.")
    return student


def unenroll(auth: AuthContext, class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    visible_class(auth, class_id)
    enrollment = db.session.scalar(
        auth.scoped(Enrollment).where(Enrollment.class_id == class_id, Enrollment.student_id == student_id)
    )
    if enrollment is None:
        raise NotFound("The student is not enrolled in this class.")
    audit.record(
        auth,
        "enrollment.delete",
        resource=enrollment,
        resource_type="enrollment",
        changes={"class_id": class_id, "student_id": student_id},
    )
    db.session.delete(enrollment)
    db.session.commit()
