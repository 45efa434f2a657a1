"""/api/imports/{kind} (CSV in, a report out) and /api/exports/{kind} (CSV out, streamed)."""

from __future__ import annotations

from flask import Response

from backend.core import csvfile
from backend.core.api import api
from backend.core.idempotency import idempotent
from backend.core.markers import long_running
from backend.spreadsheets import bp
from backend.spreadsheets.exports import export_rows
from backend.spreadsheets.imports import run_import
from backend.spreadsheets.schemas import ExportQuery, ImportQuery, ImportReportOut
from backend.tenancy import current_auth, requires

IMPORT_KINDS = "any(students, classes, enrollments, guardians)"
EXPORT_KINDS = "any(students, classes, enrollments, guardians, attendance, grades, invoices)"


@bp.post(f"/imports/<{IMPORT_KINDS}:kind>")
@long_running
@requires("imports.manage")
@idempotent
@api(query=ImportQuery, body_media_type="text/csv", response=ImportReportOut, problems=(422,))
def import_csv(kind: str, query: ImportQuery, body: bytes) -> ImportReportOut:
    """Import a CSV file: every row or none (422 lists every problem); `dry_run` only reports."""
    return run_import(current_auth(), kind, body, dry_run=query.dry_run, invite=query.invite)


@bp.get(f"/exports/<{EXPORT_KINDS}:kind>")
@long_running
@requires("exports.read")
@api(query=ExportQuery, media_type="text/csv", problems=(403,))
def export_csv(kind: str, query: ExportQuery) -> Response:
    """Export as CSV what the caller may see (streamed; the first four import back unchanged).

    The first rows are read before the status is sent: a database that fails at once is a 503."""
    columns, rows = export_rows(current_auth(), kind, query)
    return csvfile.response(kind, list(columns), rows)
