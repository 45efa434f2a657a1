"""Drafts for what needs a human: an Alembic revision holding only the risky operations (types,
nullability, missing columns, constraints blocked by rows), with notes on finding orphans, written
to DB_DOCTOR_DRAFTS_DIR under a name the drift determines, and read back by that name. The doctor
never applies a draft."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import structlog
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import ops
from sqlalchemy import Connection

from backend.config import Settings
from backend.core.db import code_heads, compare_options, render_plain_types
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.diffs import quiet_alembic
from backend.doctor.errors import DoctorError
from backend.doctor.issues import Issue

log = structlog.get_logger("homeroom.doctor")
DRAFT_NAME = re.compile(r"^doctor_draft_[0-9a-f]{12}\.py$")
_REVIEWED_OPS = (
    ops.AlterColumnOp,
    ops.AddColumnOp,
    ops.CreateForeignKeyOp,
    ops.CreateUniqueConstraintOp,
    ops.CreateCheckConstraintOp,
)


def write_draft(settings: Settings, connection: Connection, issues: list[Issue]) -> Path | None:
    """A draft Alembic revision for the issues no fix is safe for (types, nullability, missing
    columns, constraints blocked by rows, orphans); None when there are none. The same drift gives
    the same file name, so repeated scans do not pile drafts up. Never applied by the doctor."""
    review = [issue for issue in issues if issue.needs_review]
    if not review:
        return None
    upgrade, downgrade = _render(_reviewed_operations(connection), batch=connection.dialect.name == "sqlite")
    body = _revision(review, connection, upgrade, downgrade)
    folder = settings.db_doctor_drafts_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"doctor_draft_{hashlib.sha256(body.split('Issues:')[1].encode()).hexdigest()[:12]}.py"
    if not path.exists():
        path.write_text(body, encoding="utf-8")
        log.warning("doctor_draft_written", path=str(path), issues=[issue.id for issue in review])
    return path


def read_draft(settings: Settings, name: str) -> str:
    """A draft revision's text, by its file name (nothing else in or outside the folder)."""
    path = settings.db_doctor_drafts_dir / name
    if not DRAFT_NAME.match(name) or not path.is_file():
        raise DoctorError(f"No draft named {name}.")
    return path.read_text(encoding="utf-8")


def _reviewed_operations(connection: Connection) -> ops.UpgradeOps:
    """Alembic's full upgrade, filtered to the operations the doctor leaves to a human."""
    with quiet_alembic():  # after a scan: every model is loaded
        context = MigrationContext.configure(connection, opts=compare_options(db.metadata))
        script = produce_migrations(context, db.metadata)
    kept: list[ops.MigrateOperation] = []
    for operation in script.upgrade_ops.ops if script.upgrade_ops else []:
        if isinstance(operation, ops.ModifyTableOps):
            inner = [o for o in operation.ops if isinstance(o, _REVIEWED_OPS)]
            if inner:
                kept.append(ops.ModifyTableOps(operation.table_name, inner, schema=operation.schema))
        elif isinstance(operation, _REVIEWED_OPS):
            kept.append(operation)
    return ops.UpgradeOps(ops=kept)


def _render(upgrade_ops: ops.UpgradeOps, *, batch: bool) -> tuple[str, str]:
    """The upgrade and downgrade functions' bodies, as Python (batch mode on SQLite)."""
    with quiet_alembic():  # rendering makes a migration context of its own, which narrates too
        upgrade = render_python_code(upgrade_ops, render_as_batch=batch, render_item=render_plain_types)
        downgrade = render_python_code(
            upgrade_ops.reverse(), render_as_batch=batch, render_item=render_plain_types
        )
    return upgrade, downgrade


def _revision(review: list[Issue], connection: Connection, upgrade: str, downgrade: str) -> str:
    listed = "\n".join(f"- {issue.id}: {issue.message}" for issue in review)
    orphan_notes = "\n".join(_orphan_note(issue, connection) for issue in review if issue.kind == "orphans")
    head = ", ".join(sorted(code_heads()))
    return f'''"""DRAFT by `flask db doctor` ({utcnow():%Y-%m-%d %H:%M} UTC): review before it goes anywhere.

The doctor never applies these changes: each one can lose or reject data. Read every line, decide,
then move this file into migrations/versions/ with a real name and run `flask db upgrade` (after
`flask backup create`).

Issues:
{listed}
{orphan_notes}
"""

import sqlalchemy as sa
from alembic import op

revision = "draft_{hashlib.sha256(upgrade.encode()).hexdigest()[:12]}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{_indent(upgrade)}


def downgrade() -> None:
{_indent(downgrade)}
'''


def _indent(code: str) -> str:
    kept = "\n".join(line for line in code.splitlines() if not line.strip().startswith("# ###"))
    return textwrap.indent(textwrap.dedent(kept).strip(), "    ") or "    pass"


def _orphan_note(issue: Issue, connection: Connection) -> str:
    parent = issue.details.get("parent", "?")
    if connection.dialect.name == "sqlite":
        finder = f"PRAGMA foreign_key_check({issue.table})"
    else:
        finder = issue.details.get("query", "")
    return (
        f"\nOrphans in {issue.table} ({issue.details.get('rows')} rows pointing at no {parent} row): "
        f"find them with `{finder}`; re-point them or delete them by hand, then add the foreign key.\n"
    )
