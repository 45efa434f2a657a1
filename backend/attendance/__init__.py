"""Attendance: recorded per class and date, corrected per record, summarised per student."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.attendance.models import AttendanceRecord, AttendanceStatus
from backend.attendance.schemas import AttendanceOut, AttendanceRangeQuery
from backend.attendance.service import attendance_rate, student_attendance
from backend.config import Settings

__all__ = [
    "AttendanceOut",
    "AttendanceRangeQuery",
    "AttendanceRecord",
    "AttendanceStatus",
    "attendance_rate",
    "init_app",
    "student_attendance",
]

bp = Blueprint("attendance", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend.attendance import report_routes, routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
