"""/api/students: the school's students (as each role may see them) and their guardians."""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from sqlalchemy import Row

from backend.core.api import Headers, api
from backend.core.idempotency import idempotent
from backend.core.pagination import Items, Page
from backend.students import bp, service
from backend.students.access import visible_student
from backend.students.models import Student
from backend.students.schemas import (
    GuardianLinkIn,
    GuardianOut,
    StudentIn,
    StudentListQuery,
    StudentOut,
    StudentUpdateIn,
)
from backend.tenancy import current_auth, requires


@bp.get("")
@requires("students.read")
@api(query=StudentListQuery, response=Page[StudentOut])
def list_students(query: StudentListQuery) -> Page[Row[Any]]:
    """List students: admins see the school, teachers their classes, parents their children."""
    return service.list_students(current_auth(), query)


@bp.post("")
@requires("students.manage")
@idempotent
@api(body=StudentIn, response=StudentOut, status=201)
def create_student(body: StudentIn) -> tuple[Student, Headers]:
    """Admit a student."""
    student = service.create_student(current_auth(), body)
    return student, {"Location": url_for("students.get_student", student_id=student.id)}


@bp.get("/<uuid:student_id>")
@requires("students.read")
@api(response=StudentOut)
def get_student(student_id: uuid.UUID) -> Student:
    """One student."""
    return visible_student(current_auth(), student_id)


@bp.patch("/<uuid:student_id>")
@requires("students.manage")
@api(body=StudentUpdateIn, response=StudentOut)
def update_student(student_id: uuid.UUID, body: StudentUpdateIn) -> Student:
    """Change a student's details or status."""
    return service.update_student(current_auth(), student_id, body)


@bp.delete("/<uuid:student_id>")
@requires("students.manage")
@api(response=StudentOut)
def withdraw_student(student_id: uuid.UUID) -> Student:
    """Withdraw a student (nothing is deleted; the history stays)."""
    return service.withdraw_student(current_auth(), student_id)


@bp.get("/<uuid:student_id>/guardians")
@requires("guardians.read")
@api(response=Items[GuardianOut])
def list_guardians(student_id: uuid.UUID) -> Items[GuardianOut]:
    """A student's guardians, the primary one first."""
    return Items(service.list_guardians(current_auth(), student_id))


@bp.post("/<uuid:student_id>/guardians")
@requires("guardians.manage")
@idempotent
@api(body=GuardianLinkIn, response=GuardianOut, status=201)
def link_guardian(student_id: uuid.UUID, body: GuardianLinkIn) -> GuardianOut:
    """Link a parent account to a student."""
    return service.link_guardian(current_auth(), student_id, body)


@bp.delete("/<uuid:student_id>/guardians/<uuid:link_id>")
@requires("guardians.manage")
@api(status=204)
def unlink_guardian(student_id: uuid.UUID, link_id: uuid.UUID) -> None:
    """Remove a guardian link."""
    service.unlink_guardian(current_auth(), student_id, link_id)
