"""Running an import: read the CSV, plan every row, then report (a dry run, or any error) or
apply the whole plan in one transaction with one audit event for the import."""

from __future__ import annotations

import hashlib

from backend import audit
from backend.core.csvfile import read
from backend.core.db import commit_unique
from backend.core.errors import ApiError
from backend.core.extensions import db
from backend.spreadsheets.kinds import KINDS
from backend.spreadsheets.plans import Plan
from backend.spreadsheets.schemas import ImportReportOut, RowErrorOut
from backend.tenancy import AuthContext


class ImportRefused(ApiError):
    """422: the file has errors; nothing was written. The report lists every one."""

    status, code = 422, "import_invalid"


def _report(kind: str, raw: bytes, plan: Plan, rows: int, *, dry_run: bool) -> ImportReportOut:
    errors = sorted(plan.errors, key=lambda e: (e.row, e.column or ""))
    return ImportReportOut.model_validate(
        {
            "kind": kind,
            "dry_run": dry_run,
            "applied": False,
            "rows": rows,
            "create": plan.count("create"),
            "update": plan.count("update"),
            "unchanged": plan.count("unchanged"),
            "checksum": hashlib.sha256(raw).hexdigest(),  # of the file as sent
            "errors": [RowErrorOut.model_validate(error) for error in errors],
        }
    )


def run_import(
    auth: AuthContext, kind_name: str, raw: bytes, *, dry_run: bool, invite: bool = False
) -> ImportReportOut:
    """Plan the file; apply it unless `dry_run`. Any error: ImportRefused with the report, nothing written."""
    kind = KINDS[kind_name]
    table = read(raw, kind.columns, kind.required)
    plan = kind.plan(auth, table.rows)  # no rows when the header is wrong
    plan.errors = table.errors + plan.errors
    report = _report(kind_name, raw, plan, len(table.rows), dry_run=dry_run)
    if report.errors:
        db.session.rollback()
        raise ImportRefused(
            f"{len(report.errors)} problem(s) in the file; nothing was written.",
            report=report.model_dump(mode="json"),
        )
    if dry_run:
        db.session.rollback()
        return report
    kind.apply(auth, plan, invite)
    counts = {
        "rows": report.rows,
        "create": report.create,
        "update": report.update,
        "unchanged": report.unchanged,
    }
    audit.record(
        auth, f"import.{kind_name}", resource_type="import", changes={**counts, "checksum": report.checksum}
    )
    commit_unique("A record in the file was created by someone else meanwhile; run the import again.")
    return report.model_copy(update={"applied": True})
