"""/api/terms and /api/classes (with their enrollments)."""

from __future__ import annotations

import uuid

from flask import url_for

from backend.classes import bp, bulk_enrollment, service, terms_bp
from backend.classes.models import SchoolClass, Term
from backend.classes.schemas import (
    BulkEnrollmentIn,
    BulkEnrollmentOut,
    ClassIn,
    ClassListQuery,
    ClassOut,
    ClassUpdateIn,
    EnrollmentIn,
    PromoteIn,
    TermIn,
    TermOut,
)
from backend.core.api import Headers, api
from backend.core.idempotency import idempotent
from backend.core.pagination import Items, Page
from backend.students import Student, StudentOut
from backend.tenancy import current_auth, requires


@terms_bp.get("")
@requires("terms.read")
@api(response=Items[TermOut])
def list_terms() -> Items[Term]:
    """The school's terms, earliest first."""
    return Items(service.list_terms(current_auth()))


@terms_bp.post("")
@requires("terms.manage")
@idempotent
@api(body=TermIn, response=TermOut, status=201)
def create_term(body: TermIn) -> Term:
    """Add a term."""
    return service.create_term(current_auth(), body)


@bp.get("")
@requires("classes.read")
@api(query=ClassListQuery, response=Page[ClassOut])
def list_classes(query: ClassListQuery) -> Page[SchoolClass]:
    """Classes by name: all of the school's for admins, their own for teachers."""
    return service.list_classes(current_auth(), query)


@bp.post("")
@requires("classes.manage")
@idempotent
@api(body=ClassIn, response=ClassOut, status=201)
def create_class(body: ClassIn) -> tuple[SchoolClass, Headers]:
    """Create a class in a term."""
    school_class = service.create_class(current_auth(), body)
    return school_class, {"Location": url_for("classes.get_class", class_id=school_class.id)}


@bp.get("/<uuid:class_id>")
@requires("classes.read")
@api(response=ClassOut)
def get_class(class_id: uuid.UUID) -> SchoolClass:
    """One class."""
    return service.visible_class(current_auth(), class_id)


@bp.patch("/<uuid:class_id>")
@requires("classes.manage")
@api(body=ClassUpdateIn, response=ClassOut)
def update_class(class_id: uuid.UUID, body: ClassUpdateIn) -> SchoolClass:
    """Rename a class or change its teacher."""
    return service.update_class(current_auth(), class_id, body)


@bp.get("/<uuid:class_id>/enrollments")
@requires("classes.read")
@api(response=Items[StudentOut])
def list_enrollments(class_id: uuid.UUID) -> Items[Student]:
    """The students enrolled in a class."""
    return Items(service.list_enrollments(current_auth(), class_id))


@bp.post("/<uuid:class_id>/enrollments")
@requires("classes.manage")
@idempotent
@api(body=EnrollmentIn, response=StudentOut, status=201)
def enroll(class_id: uuid.UUID, body: EnrollmentIn) -> Student:
    """Enroll a student in a class."""
    return service.enroll(current_auth(), class_id, body)


@bp.post("/<uuid:class_id>/enrollments/bulk")
@requires("classes.manage")
@idempotent
@api(body=BulkEnrollmentIn, response=BulkEnrollmentOut)
def enroll_many(class_id: uuid.UUID, body: BulkEnrollmentIn) -> BulkEnrollmentOut:
    """Enroll many students at once: all or none; those already enrolled are counted, not added."""
    return bulk_enrollment.enroll_many(current_auth(), class_id, body.student_ids)


@bp.post("/<uuid:class_id>/promote")
@requires("classes.manage")
@idempotent
@api(body=PromoteIn, response=BulkEnrollmentOut)
def promote(class_id: uuid.UUID, body: PromoteIn) -> BulkEnrollmentOut:
    """Enroll this class's active students in next year's class (repeatable; all or none)."""
    return bulk_enrollment.promote(current_auth(), class_id, body.to_class_id)


@bp.delete("/<uuid:class_id>/enrollments/<uuid:student_id>")
@requires("classes.manage")
@api(status=204)
def unenroll(class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Take a student out of a class (their attendance and grades stay)."""
    service.unenroll(current_auth(), class_id, student_id)
