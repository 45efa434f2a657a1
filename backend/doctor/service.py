"""Scanning, fixing and watching the schema; the switch that stops fixing; the records of each.

Only one scan or fix runs at a time across every instance: a PostgreSQL advisory lock, or a
file lock beside a SQLite database. A fix takes a backup first, runs in a transaction where the
database allows (PostgreSQL's CREATE INDEX CONCURRENTLY cannot), is re-scanned afterwards and is
recorded in `doctor_fixes` and the audit trail. A fix that failed is not retried for an hour.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import structlog
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import ops
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from backend import audit, backups
from backend.backups import BackupError
from backend.config import Settings
from backend.core.db import code_heads, compare_options, render_plain_types
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.models import DoctorFix, DoctorScan, DoctorSwitch
from backend.doctor.scan import Issue, Severity, quiet_alembic, scan

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

log = structlog.get_logger("homeroom.doctor")
# pg_try_advisory_lock's key: "homeroom doctor" as a 63-bit number, the same for every instance.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"homeroom doctor").digest()[:8], "big") >> 1
RETRY_AFTER = timedelta(hours=1)
# The watcher's automatic fixes (when enabled) touch only these: the ones a school cannot lose.
CRITICAL_TABLES = frozenset(
    {
        "audit_events",
        "audit_chain_heads",
        "audit_policy",
        "users",
        "auth_sessions",
        "refresh_tokens",
        "invoices",
        "invoice_lines",
        "payments",
        "payment_reversals",
        "idempotency_keys",
    }
)


class DoctorError(Exception):
    """The doctor could not do what was asked; the message says why."""


class DoctorBusy(DoctorError):
    """Another scan or fix holds the lock."""


# --- one at a time --------------------------------------------------------------------------------


@contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """Hold the doctor's lock for the block, or raise DoctorBusy at once if someone else does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar():
                raise DoctorBusy("Another scan or fix is running (on this or another instance).")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        return
    with _file_lock(_lock_path(engine)):
        yield


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database or ""
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / "homeroom-doctor.lock"
    return Path(f"{database}.doctor.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    stream: IO[str] = path.open("a")
    try:
        if not _try_lock(stream):
            raise DoctorBusy("Another scan or fix is running (on this or another process).")
        try:
            yield
        finally:
            _unlock(stream)
    finally:
        stream.close()


def _try_lock(stream: IO[str]) -> bool:
    if sys.platform == "win32":
        try:
            msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(stream: IO[str]) -> None:
    if sys.platform == "win32":
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


# --- the switch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchState:
    fixes_enabled: bool  # both the setting and the runtime switch allow fixes
    by_setting: bool  # DB_DOCTOR_AUTOFIX
    by_switch: bool  # the shared runtime switch (the operator API)
    changed_at: datetime | None
    changed_by: uuid.UUID | None


def switch_state(settings: Settings) -> SwitchState:
    row = db.session.get(DoctorSwitch, 1)
    by_switch = row.fixes_enabled if row is not None else True
    return SwitchState(
        settings.db_doctor_autofix and by_switch,
        settings.db_doctor_autofix,
        by_switch,
        row.changed_at if row else None,
        row.changed_by if row else None,
    )


def set_switch(settings: Settings, enabled: bool, actor: audit.Actor | None) -> SwitchState:
    """Turn fixing on or off for every instance (they read the switch before each fix)."""
    row = db.session.get(DoctorSwitch, 1)
    if row is None:
        row = DoctorSwitch(id=1, fixes_enabled=enabled, changed_at=utcnow())
        db.session.add(row)
    row.fixes_enabled, row.changed_at = enabled, utcnow()
    row.changed_by = actor.user_id if actor else None
    audit.record(actor, "db.doctor_switch", changes={"fixes_enabled": enabled})
    db.session.commit()
    log.warning("doctor_switch", fixes_enabled=enabled)
    return switch_state(settings)


# --- scanning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    scan_id: uuid.UUID
    issues: list[Issue]
    draft: Path | None  # the draft revision written for the issues that need review

    @property
    def status(self) -> str:
        return "issues" if self.problems else "clean"

    @property
    def problems(self) -> list[Issue]:
        return _problems(self.issues)


def _scan_now(connection: Connection) -> list[Issue]:
    # db.metadata holds every table: the app factory imports every model module (backend/models.py).
    return scan(connection, db.metadata)


def run_scan(settings: Settings, trigger: str) -> ScanResult:
    """Scan (under the lock), write a draft for what needs review, record the scan."""
    started = utcnow()
    try:
        with exclusive(db.engine), db.engine.connect() as connection:
            issues = _scan_now(connection)
            draft = write_draft(settings, connection, issues)
    except DoctorBusy:
        raise
    except SQLAlchemyError as error:
        _record_scan(started, trigger, "failed", [], None, f"{type(error).__name__}")
        raise DoctorError(
            f"Could not scan the database: {type(error).__name__}: {getattr(error, 'orig', None) or error}"
        ) from None
    problems = len(_problems(issues))
    scan_id = _record_scan(
        started, trigger, "issues" if problems else "clean", issues, draft.name if draft else None, None
    )
    log.info("doctor_scan", trigger=trigger, issues=len(issues), problems=problems)
    return ScanResult(scan_id, issues, draft)


def _problems(issues: list[Issue]) -> list[Issue]:
    """Issues that need attention (info ones do not)."""
    return [issue for issue in issues if issue.severity != Severity.INFO]


def _record_scan(
    started: datetime, trigger: str, status: str, issues: list[Issue], draft: str | None, error: str | None
) -> uuid.UUID:
    row = DoctorScan(
        id=uuid.uuid4(),
        started_at=started,
        finished_at=utcnow(),
        trigger=trigger,
        status=status,
        issues=[issue.as_dict() for issue in issues],
        draft=draft,
        error=error,
    )
    try:
        db.session.add(row)
        db.session.commit()
    except SQLAlchemyError:  # a database without the doctor's tables (not migrated) is still scanned
        db.session.rollback()
        log.warning("doctor_scan_not_recorded")
    return row.id


# --- drafts for what needs a human ------------------------------------------------------------------

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
    batch = connection.dialect.name == "sqlite"
    upgrade_ops = ops.UpgradeOps(ops=kept)
    with quiet_alembic():  # rendering makes a migration context of its own, which narrates too
        upgrade = render_python_code(upgrade_ops, render_as_batch=batch, render_item=render_plain_types)
        downgrade = render_python_code(
            upgrade_ops.reverse(), render_as_batch=batch, render_item=render_plain_types
        )
    listed = "\n".join(f"- {issue.id}: {issue.message}" for issue in review)
    orphan_notes = "\n".join(_orphan_note(issue, connection) for issue in review if issue.kind == "orphans")
    head = ", ".join(sorted(code_heads()))
    body = f'''"""DRAFT by `flask db doctor` ({utcnow():%Y-%m-%d %H:%M} UTC): review before it goes anywhere.

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
    folder = settings.db_doctor_drafts_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"doctor_draft_{hashlib.sha256(body.split('Issues:')[1].encode()).hexdigest()[:12]}.py"
    if not path.exists():
        path.write_text(body, encoding="utf-8")
        log.warning("doctor_draft_written", path=str(path), issues=[issue.id for issue in review])
    return path


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


# --- fixing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixOutcome:
    issue_id: str
    status: str  # ok, failed, skipped
    message: str
    backup_file: str | None = None


def apply_fixes(
    settings: Settings,
    issue_ids: list[str] | None,
    *,
    trigger: str,
    actor: audit.Actor | None = None,
    only_tables: frozenset[str] | None = None,
) -> list[FixOutcome]:
    """Fix the named issues (every fixable one if `issue_ids` is None), after one backup."""
    state = switch_state(settings)
    if not state.fixes_enabled:
        why = "DB_DOCTOR_AUTOFIX is false" if not state.by_setting else "an operator switched fixing off"
        raise DoctorError(f"Fixing is switched off ({why}); nothing was changed.")
    with exclusive(db.engine):
        with db.engine.connect() as connection:
            issues = {issue.id: issue for issue in _scan_now(connection)}
        wanted = (
            list(issue_ids) if issue_ids is not None else [i for i, issue in issues.items() if issue.fixable]
        )
        outcomes: list[FixOutcome] = []
        ready: list[Issue] = []
        for issue_id in wanted:
            issue = issues.get(issue_id)
            if issue is None:
                outcomes.append(
                    FixOutcome(issue_id, "skipped", "No such issue in a fresh scan (already fixed?).")
                )
            elif not issue.fixable:
                outcomes.append(
                    FixOutcome(issue_id, "skipped", "No safe fix: it needs review (see the draft).")
                )
            elif only_tables is not None and issue.table not in only_tables:
                outcomes.append(
                    FixOutcome(issue_id, "skipped", "Not a critical table: left for an operator.")
                )
            elif (held := _held_until(issue_id)) is not None:
                outcomes.append(
                    FixOutcome(issue_id, "skipped", f"Failed recently: not retried before {held:%H:%M} UTC.")
                )
            else:
                ready.append(issue)
        if not ready:
            return outcomes
        try:
            backup = backups.create(settings).name
        except BackupError as error:
            raise DoctorError(f"No fix without a fresh backup, and the backup failed: {error}") from None
        ran = [_run_fix(issue) for issue in ready]
        with db.engine.connect() as connection:  # one fresh scan judges every fix
            remaining = {issue.id for issue in _scan_now(connection)}
        outcomes += [_record_fix(fix, remaining, trigger, actor, backup) for fix in ran]
    return outcomes


def _held_until(issue_id: str) -> datetime | None:
    last = db.session.scalars(
        select(DoctorFix)
        .where(DoctorFix.issue_id == issue_id)
        .order_by(DoctorFix.finished_at.desc())
        .limit(1)
    ).first()
    if last is None or last.status != "failed" or last.finished_at < utcnow() - RETRY_AFTER:
        return None
    return last.finished_at + RETRY_AFTER


def _execute(fix_statements: tuple[str, ...], transactional: bool) -> None:
    if transactional:
        with db.engine.begin() as connection:
            for statement in fix_statements:
                connection.exec_driver_sql(statement)
        return
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in fix_statements:
            connection.exec_driver_sql(statement)


@dataclass(frozen=True)
class _Ran:
    issue: Issue
    statements: list[str]
    started_at: datetime
    finished_at: datetime
    error: str | None


def _run_fix(issue: Issue) -> _Ran:
    assert issue.fix is not None
    started, error = utcnow(), None
    try:
        _execute(issue.fix.statements, issue.fix.transactional)
    except SQLAlchemyError as failure:
        error = f"{type(failure).__name__}: {getattr(failure, 'orig', None) or failure}"
    return _Ran(issue, list(issue.fix.statements), started, utcnow(), error)


def _record_fix(
    ran: _Ran, remaining: set[str], trigger: str, actor: audit.Actor | None, backup: str
) -> FixOutcome:
    """Record a fix that ran: resolved when it succeeded and the fresh scan no longer has the issue."""
    issue, error = ran.issue, ran.error
    resolved = error is None and issue.id not in remaining
    status = "ok" if resolved else "failed"
    if error is None and not resolved:
        error = "The fix ran but a fresh scan still reports the issue."
    db.session.add(
        DoctorFix(
            id=uuid.uuid4(),
            issue_id=issue.id,
            trigger=trigger,
            actor_id=actor.user_id if actor else None,
            statements=ran.statements,
            status=status,
            error=error,
            backup_file=backup,
            resolved=resolved,
            started_at=ran.started_at,
            finished_at=ran.finished_at,
        )
    )
    audit.record(
        actor,
        "db.fix",
        resource_type="schema",
        resource_id=issue.id[:64],
        changes={"issue": issue.id, "sql": ran.statements, "status": status, "backup": backup},
    )
    db.session.commit()
    (log.info if resolved else log.error)("doctor_fix", issue=issue.id, status=status, trigger=trigger)
    message = "Fixed; a fresh scan no longer reports it." if resolved else (error or "failed")
    return FixOutcome(issue.id, status, message, backup)


def fix_history(limit: int = 50) -> list[DoctorFix]:
    return list(db.session.scalars(select(DoctorFix).order_by(DoctorFix.finished_at.desc()).limit(limit)))


def last_scan() -> DoctorScan | None:
    return db.session.scalars(select(DoctorScan).order_by(DoctorScan.started_at.desc()).limit(1)).first()


# --- watching -------------------------------------------------------------------------------------


def watch(
    settings: Settings,
    interval: float,
    *,
    autofix: bool,
    runs: int | None,
    report: Callable[[str], None],
    stopping: Callable[[], bool],
) -> int:
    """Scan every `interval` seconds (`runs` times, or until `stopping()`); with `autofix`, fix the
    safe issues in critical tables while fixing is switched on. The number of scans made."""
    made = 0
    while not stopping() and (runs is None or made < runs):
        try:
            result = run_scan(settings, "watch")
            made += 1
            report(f"{utcnow():%H:%M:%S} {len(result.problems)} issue(s) need attention")
            if autofix and any(i.fixable and i.table in CRITICAL_TABLES for i in result.issues):
                if switch_state(settings).fixes_enabled:
                    for outcome in apply_fixes(settings, None, trigger="watch", only_tables=CRITICAL_TABLES):
                        report(f"  fix {outcome.issue_id}: {outcome.status} ({outcome.message})")
                else:
                    report("  fixing is switched off: nothing fixed")
        except DoctorBusy:
            report(f"{utcnow():%H:%M:%S} another scan is running; skipped")
        except DoctorError as error:
            report(f"{utcnow():%H:%M:%S} {error}")
        finally:
            db.session.remove()
        deadline = time.monotonic() + interval
        while not stopping() and (runs is None or made < runs) and time.monotonic() < deadline:
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
    return made


def severity_counts(severities: Iterable[str]) -> dict[str, int]:
    """How many issues of each severity (every severity present, 0 when none)."""
    counts = {severity.value: 0 for severity in Severity}
    for severity in severities:
        counts[severity] += 1
    return counts


def issues_by_severity(issues: list[Issue]) -> dict[str, int]:
    return severity_counts(issue.severity.value for issue in issues)


def open_issue_counts() -> dict[str, int]:
    """The last recorded scan's issues by severity (none before the first scan)."""
    scan = last_scan()
    return severity_counts(issue["severity"] for issue in (scan.issues if scan else []))


DRAFT_NAME = re.compile(r"^doctor_draft_[0-9a-f]{12}\.py$")


def read_draft(settings: Settings, name: str) -> str:
    """A draft revision's text, by its file name (nothing else in or outside the folder)."""
    path = settings.db_doctor_drafts_dir / name
    if not DRAFT_NAME.match(name) or not path.is_file():
        raise DoctorError(f"No draft named {name}.")
    return path.read_text(encoding="utf-8")
