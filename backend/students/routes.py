"""/api/students: the school's students (as each role may see them) and their guardians."""

from __future__ import annotations

import uuid

from flask import Response, url_for

from backend.auth.access import current_auth, requires
from backend.core.api import Items, Page, api
from backend.core.responses import items_response, json_response, no_content, page_response
from backend.students import bp, service
from backend.students.access import visible_student
from backend.students.schemas import (
    GuardianLinkIn,
    GuardianOut,
    StudentIn,
    StudentListQuery,
    StudentOut,
    StudentUpdateIn,
)


@bp.get("")
@requires("students.read")
@api(query=StudentListQuery, response=Page[StudentOut])
def list_students(query: StudentListQuery) -> Response:
    """List students: admins see the school, teachers their classes, parents their children."""
    students, next_cursor = service.list_students(current_auth(), query)
    return page_response(students, next_cursor, StudentOut)


@bp.post("")
@requires("students.manage")
@api(body=StudentIn, response=StudentOut, status=201)
def create_student(body: StudentIn) -> Response:
    """Admit a student."""
    student = service.create_student(current_auth(), body)
    location = url_for("students.get_student", student_id=student.id)
    return json_response(StudentOut.model_validate(student), 201, {"Location": location})


@bp.get("/<uuid:student_id>")
@requires("students.read")
@api(response=StudentOut)
def get_student(student_id: uuid.UUID) -> Response:
    """One student."""
    return json_response(StudentOut.model_validate(visible_student(current_auth(), student_id)))


@bp.patch("/<uuid:student_id>")
@requires("students.manage")
@api(body=StudentUpdateIn, response=StudentOut)
def update_student(student_id: uuid.UUID, body: StudentUpdateIn) -> Response:
    """Change a student's details or status."""
    return json_response(StudentOut.model_validate(service.update_student(current_auth(), student_id, body)))


@bp.delete("/<uuid:student_id>")
@requires("students.manage")
@api(response=StudentOut)
def withdraw_student(student_id: uuid.UUID) -> Response:
    """Withdraw a student (nothing is deleted; the history stays)."""
    return json_response(StudentOut.model_validate(service.withdraw_student(current_auth(), student_id)))


@bp.get("/<uuid:student_id>/guardians")
@requires("guardians.read")
@api(response=Items[GuardianOut])
def list_guardians(student_id: uuid.UUID) -> Response:
    """A student's guardians, the primary one first."""
    return items_response(service.list_guardians(current_auth(), student_id), GuardianOut)


@bp.post("/<uuid:student_id>/guardians")
@requires("guardians.manage")
@api(body=GuardianLinkIn, response=GuardianOut, status=201)
def link_guardian(student_id: uuid.UUID, body: GuardianLinkIn) -> Response:
    """Link a parent account to a student."""
    link = service.link_guardian(current_auth(), student_id, body)
    return json_response(GuardianOut.model_validate(link), 201)


@bp.delete("/<uuid:student_id>/guardians/<uuid:link_id>")
@requires("guardians.manage")
@api(status=204)
def unlink_guardian(student_id: uuid.UUID, link_id: uuid.UUID) -> Response:
    """Remove a guardian link."""
    service.unlink_guardian(current_auth(), student_id, link_id)
    return no_content()
