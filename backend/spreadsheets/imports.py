"""Running an import: read the CSV, plan every row, then report (a dry run, or any error) or
apply the whole plan in one transaction with one audit event for the import."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace

from backend import audit
from backend.core.csvfile import CellError, read
from backend.core.db import commit_unique
from backend.core.errors import ApiError
from backend.core.extensions import db
from backend.spreadsheets.kinds import KINDS
from backend.spreadsheets.plans import Plan
from backend.tenancy import AuthContext


@dataclass(frozen=True)
class ImportReport:
    kind: str
    dry_run: bool
    applied: bool
    rows: int
    create: int
    update: int
    unchanged: int
    checksum: str  # SHA-256 of the file as sent
    errors: list[CellError] = field(default_factory=list)


class ImportRefused(ApiError):
    """422: the file has errors; nothing was written. The report lists every one."""

    status, code = 422, "import_invalid"


def _report(kind: str, raw: bytes, plan: Plan, rows: int, *, dry_run: bool, applied: bool) -> ImportReport:
    errors = sorted(plan.errors, key=lambda e: (e.row, e.column or ""))
    return ImportReport(
        kind,
        dry_run,
        applied,
        rows,
        plan.count("create"),
        plan.count("update"),
        plan.count("unchanged"),
        hashlib.sha256(raw).hexdigest(),
        errors,
    )


def run_import(
    auth: AuthContext, kind_name: str, raw: bytes, *, dry_run: bool, invite: bool = False
) -> ImportReport:
    """Plan the file; apply it unless `dry_run`. Any error: ImportRefused with the report, nothing written."""
    kind = KINDS[kind_name]
    table = read(raw, kind.columns, kind.required)
    plan = kind.plan(auth, table.rows)  # no rows when the header is wrong
    plan.errors = table.errors + plan.errors
    report = _report(kind_name, raw, plan, len(table.rows), dry_run=dry_run, applied=False)
    if report.errors:
        db.session.rollback()
        raise ImportRefused(
            f"{len(report.errors)} problem(s) in the file; nothing was written.", report=asdict(report)
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
    return replace(report, applied=True)
