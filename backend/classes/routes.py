"""/api/terms and /api/classes (with their enrollments)."""

from __future__ import annotations

import uuid

from flask import Response, url_for

from backend.auth.access import current_auth, requires
from backend.classes import bp, service, terms_bp
from backend.classes.schemas import (
    ClassIn,
    ClassListQuery,
    ClassOut,
    ClassUpdateIn,
    EnrollmentIn,
    TermIn,
    TermOut,
)
from backend.core.api import Items, Page, api
from backend.core.responses import items_response, json_response, no_content, page_response
from backend.students.schemas import StudentOut


@terms_bp.get("")
@requires("terms.read")
@api(response=Items[TermOut])
def list_terms() -> Response:
    """The school's terms, earliest first."""
    return items_response(service.list_terms(), TermOut)


@terms_bp.post("")
@requires("terms.manage")
@api(body=TermIn, response=TermOut, status=201)
def create_term(body: TermIn) -> Response:
    """Add a term."""
    return json_response(TermOut.model_validate(service.create_term(current_auth(), body)), 201)


@bp.get("")
@requires("classes.read")
@api(query=ClassListQuery, response=Page[ClassOut])
def list_classes(query: ClassListQuery) -> Response:
    """Classes by name: all of the school's for admins, their own for teachers."""
    classes, next_cursor = service.list_classes(current_auth(), query)
    return page_response(classes, next_cursor, ClassOut)


@bp.post("")
@requires("classes.manage")
@api(body=ClassIn, response=ClassOut, status=201)
def create_class(body: ClassIn) -> Response:
    """Create a class in a term."""
    school_class = service.create_class(current_auth(), body)
    location = url_for("classes.get_class", class_id=school_class.id)
    return json_response(ClassOut.model_validate(school_class), 201, {"Location": location})


@bp.get("/<uuid:class_id>")
@requires("classes.read")
@api(response=ClassOut)
def get_class(class_id: uuid.UUID) -> Response:
    """One class."""
    return json_response(ClassOut.model_validate(service.visible_class(current_auth(), class_id)))


@bp.patch("/<uuid:class_id>")
@requires("classes.manage")
@api(body=ClassUpdateIn, response=ClassOut)
def update_class(class_id: uuid.UUID, body: ClassUpdateIn) -> Response:
    """Rename a class or change its teacher."""
    return json_response(ClassOut.model_validate(service.update_class(current_auth(), class_id, body)))


@bp.get("/<uuid:class_id>/enrollments")
@requires("classes.read")
@api(response=Items[StudentOut])
def list_enrollments(class_id: uuid.UUID) -> Response:
    """The students enrolled in a class."""
    return items_response(service.list_enrollments(current_auth(), class_id), StudentOut)


@bp.post("/<uuid:class_id>/enrollments")
@requires("classes.manage")
@api(body=EnrollmentIn, response=StudentOut, status=201)
def enroll(class_id: uuid.UUID, body: EnrollmentIn) -> Response:
    """Enroll a student in a class."""
    return json_response(StudentOut.model_validate(service.enroll(current_auth(), class_id, body)), 201)


@bp.delete("/<uuid:class_id>/enrollments/<uuid:student_id>")
@requires("classes.manage")
@api(status=204)
def unenroll(class_id: uuid.UUID, student_id: uuid.UUID) -> Response:
    """Take a student out of a class (their attendance and grades stay)."""
    service.unenroll(current_auth(), class_id, student_id)
    return no_content()
