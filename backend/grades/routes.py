"""Assessment and grade routes under /api/classes, /api/assessments and /api/students."""

from __future__ import annotations

import uuid

from backend.core.api import api
from backend.core.idempotency import idempotent
from backend.core.pagination import Items
from backend.grades import bp, service
from backend.grades.models import Assessment, Grade
from backend.grades.schemas import (
    AssessmentIn,
    AssessmentOut,
    AssessmentUpdateIn,
    BulkGradesIn,
    GradeOut,
    StudentGradesOut,
    StudentGradesQuery,
)
from backend.tenancy import current_auth, requires


@bp.get("/classes/<uuid:class_id>/assessments")
@requires("grades.record")
@api(response=Items[AssessmentOut])
def list_assessments(class_id: uuid.UUID) -> Items[Assessment]:
    """A class's assessments by due date."""
    return Items(service.list_assessments(current_auth(), class_id))


@bp.post("/classes/<uuid:class_id>/assessments")
@requires("grades.record")
@idempotent
@api(body=AssessmentIn, response=AssessmentOut, status=201)
def create_assessment(class_id: uuid.UUID, body: AssessmentIn) -> Assessment:
    """Add an assessment to a class."""
    return service.create_assessment(current_auth(), class_id, body)


@bp.patch("/assessments/<uuid:assessment_id>")
@requires("grades.record")
@api(body=AssessmentUpdateIn, response=AssessmentOut)
def update_assessment(assessment_id: uuid.UUID, body: AssessmentUpdateIn) -> Assessment:
    """Change an assessment, or publish it to parents."""
    return service.update_assessment(current_auth(), assessment_id, body)


@bp.get("/assessments/<uuid:assessment_id>/grades")
@requires("grades.record")
@api(response=Items[GradeOut])
def assessment_grades(assessment_id: uuid.UUID) -> Items[Grade]:
    """The grades given for an assessment."""
    return Items(service.assessment_grades(current_auth(), assessment_id))


@bp.put("/assessments/<uuid:assessment_id>/grades")
@requires("grades.record")
@api(body=BulkGradesIn, response=Items[GradeOut])
def record_grades(assessment_id: uuid.UUID, body: BulkGradesIn) -> Items[Grade]:
    """Record grades for an assessment (idempotent upsert per student)."""
    return Items(service.record_grades(current_auth(), assessment_id, body.grades))


@bp.get("/students/<uuid:student_id>/grades")
@requires("grades.read")
@api(query=StudentGradesQuery, response=StudentGradesOut)
def student_grades(student_id: uuid.UUID, query: StudentGradesQuery) -> StudentGradesOut:
    """A student's grades and a weighted summary per term (parents: published only)."""
    return service.student_grades(current_auth(), student_id, query.term_id)
