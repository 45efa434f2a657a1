"""Assessment and grade routes under /api/classes, /api/assessments and /api/students."""

from __future__ import annotations

import uuid

from flask import Response

from backend.auth.access import current_auth, requires
from backend.core.api import Items, api
from backend.core.responses import items_response, json_response
from backend.grades import bp, service
from backend.grades.schemas import (
    AssessmentIn,
    AssessmentOut,
    AssessmentUpdateIn,
    BulkGradesIn,
    GradeOut,
    StudentGradesOut,
    StudentGradesQuery,
)


@bp.get("/classes/<uuid:class_id>/assessments")
@requires("grades.record")
@api(response=Items[AssessmentOut])
def list_assessments(class_id: uuid.UUID) -> Response:
    """A class's assessments by due date."""
    return items_response(service.list_assessments(current_auth(), class_id), AssessmentOut)


@bp.post("/classes/<uuid:class_id>/assessments")
@requires("grades.record")
@api(body=AssessmentIn, response=AssessmentOut, status=201)
def create_assessment(class_id: uuid.UUID, body: AssessmentIn) -> Response:
    """Add an assessment to a class."""
    assessment = service.create_assessment(current_auth(), class_id, body)
    return json_response(AssessmentOut.model_validate(assessment), 201)


@bp.patch("/assessments/<uuid:assessment_id>")
@requires("grades.record")
@api(body=AssessmentUpdateIn, response=AssessmentOut)
def update_assessment(assessment_id: uuid.UUID, body: AssessmentUpdateIn) -> Response:
    """Change an assessment, or publish it to parents."""
    assessment = service.update_assessment(current_auth(), assessment_id, body)
    return json_response(AssessmentOut.model_validate(assessment))


@bp.get("/assessments/<uuid:assessment_id>/grades")
@requires("grades.record")
@api(response=Items[GradeOut])
def assessment_grades(assessment_id: uuid.UUID) -> Response:
    """The grades given for an assessment."""
    return items_response(service.assessment_grades(current_auth(), assessment_id), GradeOut)


@bp.put("/assessments/<uuid:assessment_id>/grades")
@requires("grades.record")
@api(body=BulkGradesIn, response=Items[GradeOut])
def record_grades(assessment_id: uuid.UUID, body: BulkGradesIn) -> Response:
    """Record grades for an assessment (idempotent upsert per student)."""
    return items_response(service.record_grades(current_auth(), assessment_id, body.grades), GradeOut)


@bp.get("/students/<uuid:student_id>/grades")
@requires("grades.read")
@api(query=StudentGradesQuery, response=StudentGradesOut)
def student_grades(student_id: uuid.UUID, query: StudentGradesQuery) -> Response:
    """A student's grades and a weighted summary per term (parents: published only)."""
    result = service.student_grades(current_auth(), student_id, query.term_id)
    return json_response(StudentGradesOut.model_validate(result))
