"""Grade scales (/api/grade-scales, a class's own), term results of a class, report comments and
the progress view."""

from __future__ import annotations

import uuid

from backend.core.api import api
from backend.core.idempotency import idempotent
from backend.core.pagination import Items
from backend.reportcards import bp, comments, reading, scales
from backend.reportcards.models import GradeScale, ReportComment
from backend.reportcards.schemas import (
    ClassResultsOut,
    ClassScaleIn,
    ClassScaleOut,
    CommentIn,
    CommentOut,
    ProgressOut,
    ScaleIn,
    ScaleOut,
    ScaleUpdateIn,
)
from backend.tenancy import current_auth, requires


@bp.get("/grade-scales")
@requires("report_cards.write")
@api(response=Items[ScaleOut])
def list_scales() -> Items[GradeScale]:
    """The school's grade scales, by name."""
    return Items(scales.list_scales(current_auth()))


@bp.post("/grade-scales")
@requires("report_cards.manage")
@idempotent
@api(body=ScaleIn, response=ScaleOut, status=201, problems=(409,))
def create_scale(body: ScaleIn) -> GradeScale:
    """Add a grade scale: percentage bands to labels, highest first, the last from 0."""
    return scales.create_scale(current_auth(), body)


@bp.get("/grade-scales/<uuid:scale_id>")
@requires("report_cards.write")
@api(response=ScaleOut)
def get_scale(scale_id: uuid.UUID) -> GradeScale:
    """One grade scale."""
    return scales.get_scale(current_auth(), scale_id)


@bp.patch("/grade-scales/<uuid:scale_id>")
@requires("report_cards.manage")
@api(body=ScaleUpdateIn, response=ScaleOut, problems=(409,))
def update_scale(scale_id: uuid.UUID, body: ScaleUpdateIn) -> GradeScale:
    """Rename a scale, make it the default, or change its bands and rounding until a published
    report uses it (409 after that)."""
    return scales.update_scale(current_auth(), scale_id, body)


@bp.delete("/grade-scales/<uuid:scale_id>")
@requires("report_cards.manage")
@api(status=204, problems=(409,))
def delete_scale(scale_id: uuid.UUID) -> None:
    """Delete a scale no class and no published report uses."""
    scales.delete_scale(current_auth(), scale_id)


@bp.get("/classes/<uuid:class_id>/grade-scale")
@requires("report_cards.write")
@api(response=ClassScaleOut)
def class_scale(class_id: uuid.UUID) -> ClassScaleOut:
    """The scale a class's results use: its own, else the school's default."""
    return scales.class_scale(current_auth(), class_id)


@bp.put("/classes/<uuid:class_id>/grade-scale")
@requires("report_cards.manage")
@api(body=ClassScaleIn, response=ClassScaleOut)
def set_class_scale(class_id: uuid.UUID, body: ClassScaleIn) -> ClassScaleOut:
    """Give a class its own scale (null: back to the school's default)."""
    return scales.set_class_scale(current_auth(), class_id, body.scale_id)


@bp.get("/classes/<uuid:class_id>/term-results")
@requires("report_cards.write")
@api(response=ClassResultsOut)
def class_results(class_id: uuid.UUID) -> ClassResultsOut:
    """Each student's weighted average, grade, counts and attendance in the class for its term."""
    return reading.class_results(current_auth(), class_id)


@bp.get("/classes/<uuid:class_id>/report-comments")
@requires("report_cards.write")
@api(response=Items[CommentOut])
def class_comments(class_id: uuid.UUID) -> Items[ReportComment]:
    """The report comments written for the class's students."""
    return Items(comments.class_comments(current_auth(), class_id))


@bp.put("/classes/<uuid:class_id>/report-comments/<uuid:student_id>")
@requires("report_cards.write")
@api(body=CommentIn, response=CommentOut)
def write_class_comment(class_id: uuid.UUID, student_id: uuid.UUID, body: CommentIn) -> ReportComment:
    """Write (or rewrite) a student's comment for the class's term report."""
    return comments.write_class_comment(current_auth(), class_id, student_id, body.body)


@bp.delete("/classes/<uuid:class_id>/report-comments/<uuid:student_id>")
@requires("report_cards.write")
@api(status=204)
def delete_class_comment(class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Delete a student's comment for the class."""
    comments.delete_class_comment(current_auth(), class_id, student_id)


@bp.put("/terms/<uuid:term_id>/report-comments/<uuid:student_id>")
@requires("report_cards.manage")
@api(body=CommentIn, response=CommentOut)
def write_overall_comment(term_id: uuid.UUID, student_id: uuid.UUID, body: CommentIn) -> ReportComment:
    """Write (or rewrite) the overall comment on a student's term report."""
    return comments.write_overall_comment(current_auth(), term_id, student_id, body.body)


@bp.delete("/terms/<uuid:term_id>/report-comments/<uuid:student_id>")
@requires("report_cards.manage")
@api(status=204)
def delete_overall_comment(term_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Delete the overall comment on a student's term report."""
    comments.delete_overall_comment(current_auth(), term_id, student_id)


@bp.get("/terms/<uuid:term_id>/report-progress")
@requires("report_cards.write")
@api(response=ProgressOut)
def report_progress(term_id: uuid.UUID) -> ProgressOut:
    """Comments written and still missing, per teacher and class (teachers: their own)."""
    return comments.progress(current_auth(), term_id)
